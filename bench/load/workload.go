package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// The Workload API refuses calls without this header (SPIFFE Workload
// Endpoint spec), in SPIRE and in spirelet alike.
func wlContext(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io",
		"true")
}

func wlDial(socket string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(64<<20)))
}

// fetchX509 opens FetchX509SVID, reads the first response and closes the
// stream, as a workload that wants its SVID once does.
func fetchX509(ctx context.Context, c workload.SpiffeWorkloadAPIClient) (
	int, error) {
	ctx, cancel := context.WithCancel(wlContext(ctx))
	defer cancel()
	st, err := c.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err != nil {
		return 0, err
	}
	r, err := st.Recv()
	if err != nil {
		return 0, err
	}
	if len(r.Svids) == 0 {
		return 0, errors.New("response without SVIDs")
	}
	return len(r.Svids), nil
}

func fetchJWT(ctx context.Context, c workload.SpiffeWorkloadAPIClient,
	aud string) error {
	r, err := c.FetchJWTSVID(wlContext(ctx),
		&workload.JWTSVIDRequest{Audience: []string{aud}})
	if err != nil {
		return err
	}
	if len(r.Svids) == 0 || r.Svids[0].Svid == "" {
		return errors.New("response without JWT-SVIDs")
	}
	return nil
}

type wlResult struct {
	Kind       string  `json:"kind"`
	Clients    int     `json:"clients"`
	Calls      int     `json:"calls"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_s"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
}

func wlFetch(args []string) int {
	fs := flag.NewFlagSet("wl-fetch", flag.ExitOnError)
	socket := fs.String("socket", "", "Workload API socket path")
	kind := fs.String("kind", "x509", "x509 or jwt")
	clients := fs.Int("clients", 1, "concurrent clients")
	duration := fs.Duration("duration", 3*time.Second, "measured time")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time first")
	aud := fs.String("audience", "bench", "JWT audience")
	_ = fs.Parse(args)
	if *socket == "" || *clients < 1 ||
		(*kind != "x509" && *kind != "jwt") {
		usage()
	}
	conns := make([]*grpc.ClientConn, *clients)
	for i := range conns {
		cc, err := wlDial(*socket)
		if err != nil {
			return fail("dial: %v", err)
		}
		defer cc.Close()
		conns[i] = cc
	}
	// One call per client before the clock starts: connections are up
	// and the agent has whatever it caches (a JWT-SVID) in its cache.
	for _, cc := range conns {
		c := workload.NewSpiffeWorkloadAPIClient(cc)
		ctx, cancel := context.WithTimeout(context.Background(),
			10*time.Second)
		var err error
		if *kind == "x509" {
			_, err = fetchX509(ctx, c)
		} else {
			err = fetchJWT(ctx, c, *aud)
		}
		cancel()
		if err != nil {
			return fail("first call: %v", err)
		}
	}
	var (
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	measureFrom := start.Add(*warmup)
	end := measureFrom.Add(*duration)
	for _, cc := range conns {
		wg.Add(1)
		go func(c workload.SpiffeWorkloadAPIClient) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			nerr := 0
			var ferr error
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				ctx, cancel := context.WithTimeout(
					context.Background(), 10*time.Second)
				var err error
				if *kind == "x509" {
					_, err = fetchX509(ctx, c)
				} else {
					err = fetchJWT(ctx, c, *aud)
				}
				cancel()
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				if err != nil {
					nerr++
					if ferr == nil {
						ferr = err
					}
					continue
				}
				lat = append(lat, t1.Sub(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += nerr
			if firstErr == nil {
				firstErr = ferr
			}
			mu.Unlock()
		}(workload.NewSpiffeWorkloadAPIClient(cc))
	}
	wg.Wait()
	sortDurations(all)
	res := wlResult{Kind: *kind, Clients: *clients, Calls: len(all),
		Errors: errs, Seconds: duration.Seconds(),
		PerSecond: float64(len(all)) / duration.Seconds(),
		P50us:     us(quantile(all, 0.50)),
		P99us:     us(quantile(all, 0.99))}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	emit(res)
	if len(all) == 0 {
		return 1
	}
	return 0
}

// wlFirst waits for the first SVID a workload is served. The socket may
// not exist yet and the agent may refuse until it has SVIDs; both are
// retried every millisecond with a fresh connection, so no gRPC
// reconnect backoff stretches the measurement.
func wlFirst(args []string) int {
	fs := flag.NewFlagSet("wl-first", flag.ExitOnError)
	socket := fs.String("socket", "", "Workload API socket path")
	want := fs.Int("want", 1, "SVIDs the response must hold")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	_ = fs.Parse(args)
	if *socket == "" {
		usage()
	}
	deadline := time.Now().Add(*timeout)
	var last error
	tries := 0
	for time.Now().Before(deadline) {
		tries++
		c, err := net.DialTimeout("unix", *socket, time.Second)
		if err != nil {
			last = err
			time.Sleep(time.Millisecond)
			continue
		}
		c.Close()
		n, err := wlFirstOnce(*socket, *want, deadline)
		if err == nil {
			emit(map[string]any{"mono_ns": monoNow(), "svids": n,
				"tries": tries})
			return 0
		}
		last = err
		time.Sleep(time.Millisecond)
	}
	return fail("no %d SVIDs within %v: %v", *want, *timeout, last)
}

// wlFirstOnce reads one FetchX509SVID stream until a response holds want
// SVIDs (an agent sends an update as more become ready).
func wlFirstOnce(socket string, want int, deadline time.Time) (int, error) {
	cc, err := wlDial(socket)
	if err != nil {
		return 0, err
	}
	defer cc.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	c := workload.NewSpiffeWorkloadAPIClient(cc)
	st, err := c.FetchX509SVID(wlContext(ctx), &workload.X509SVIDRequest{})
	if err != nil {
		return 0, err
	}
	for {
		r, err := st.Recv()
		if err != nil {
			return 0, err
		}
		if len(r.Svids) >= want {
			return len(r.Svids), nil
		}
	}
}
