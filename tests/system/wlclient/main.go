// wlclient: a go-spiffe v2 Workload API client for spirelet's system
// tests, built by the tests into a cache outside the repository.
//
//	wlclient -socket unix:///path watch -rotations 3 -timeout 30s
//	    holds one X509Source open and exits 0 once it saw that many
//	    distinct SVIDs, with no stream error (so no reconnect) between.
//	wlclient -socket unix:///path concurrent -n 1000 -timeout 60s
//	    n clients, each on its own connection, fetch at once; prints
//	    "ok N failed M".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

type watcher struct {
	mu      sync.Mutex
	serials map[string]bool
	errors  int
	want    int
	done    chan struct{}
	closed  bool
}

func (w *watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(c.SVIDs) == 0 {
		return
	}
	s := c.SVIDs[0].Certificates[0].SerialNumber.String()
	if !w.serials[s] {
		w.serials[s] = true
		fmt.Printf("update %s %s\n", c.SVIDs[0].ID, s)
	}
	if len(w.serials) >= w.want && !w.closed {
		w.closed = true
		close(w.done)
	}
}

func (w *watcher) OnX509ContextWatchError(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errors++
	fmt.Printf("watch error: %v\n", err)
}

func watch(socket string, args []string) int {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	n := fs.Int("rotations", 3, "distinct SVIDs to see")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(socket))
	if err != nil {
		fmt.Println("client:", err)
		return 1
	}
	defer client.Close()
	w := &watcher{serials: map[string]bool{}, want: *n,
		done: make(chan struct{})}
	go func() { _ = client.WatchX509Context(ctx, w) }()
	select {
	case <-w.done:
	case <-ctx.Done():
		fmt.Printf("timed out with %d SVIDs\n", len(w.serials))
		return 1
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.errors > 0 {
		fmt.Printf("%d stream errors\n", w.errors)
		return 1
	}
	fmt.Printf("saw %d SVIDs on one stream\n", len(w.serials))
	return 0
}

func concurrent(socket string, args []string) int {
	fs := flag.NewFlagSet("concurrent", flag.ExitOnError)
	n := fs.Int("n", 100, "clients")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, failed := 0, 0
	var first error
	start := make(chan struct{})
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := workloadapi.FetchX509SVID(ctx,
				workloadapi.WithAddr(socket))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
			} else {
				ok++
			}
		}()
	}
	close(start)
	wg.Wait()
	fmt.Printf("ok %d failed %d\n", ok, failed)
	if first != nil {
		fmt.Println("first error:", first)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func main() {
	socket := flag.String("socket", "", "unix:///path of the socket")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: wlclient -socket S watch|concurrent")
		os.Exit(2)
	}
	switch flag.Arg(0) {
	case "watch":
		os.Exit(watch(*socket, flag.Args()[1:]))
	case "concurrent":
		os.Exit(concurrent(*socket, flag.Args()[1:]))
	}
	os.Exit(2)
}
