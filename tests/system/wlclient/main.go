// wlclient: a go-spiffe v2 Workload API client for spirelet's system
// tests, built by the tests into a cache outside the repository.
//
//	wlclient -socket unix:///path watch -rotations 3 -timeout 30s
//	    holds one X509Source open and exits 0 once it saw that many
//	    distinct SVIDs, with no stream error (so no reconnect) between.
//	wlclient -socket unix:///path concurrent -n 1000 -timeout 60s
//	    n clients, each on its own connection, fetch at once; prints
//	    "ok N failed M".
//	wlclient -socket unix:///path latency -c 64 -d 5s [-i 20ms]
//	    c clients, each on its own connection, fetch in a loop for d
//	    (pausing i between calls); prints "calls N p50_us A p99_us B".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
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

func latency(socket string, args []string) int {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	c := fs.Int("c", 64, "concurrent clients")
	d := fs.Duration("d", 5*time.Second, "how long")
	iv := fs.Duration("i", 0, "pause between a client's calls")
	_ = fs.Parse(args)
	ctx := context.Background()
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	failed := 0
	end := time.Now().Add(*d)
	for i := 0; i < *c; i++ {
		client, err := workloadapi.New(ctx, workloadapi.WithAddr(socket))
		if err != nil {
			fmt.Println("client:", err)
			return 1
		}
		defer client.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(end) {
				t := time.Now()
				_, err := client.FetchX509SVID(ctx)
				if err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t))
				if *iv > 0 {
					time.Sleep(*iv)
				}
			}
			mu.Lock()
			all = append(all, mine...)
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) == 0 {
		fmt.Println("no call succeeded")
		return 1
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) int64 {
		return all[int(p*float64(len(all)-1))].Microseconds()
	}
	fmt.Printf("calls %d failed %d p50_us %d p99_us %d max_us %d\n",
		len(all), failed, q(0.5), q(0.99), all[len(all)-1].Microseconds())
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
	case "latency":
		os.Exit(latency(*socket, flag.Args()[1:]))
	}
	os.Exit(2)
}
