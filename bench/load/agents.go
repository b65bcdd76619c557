package main

// Fake agents for the server scenarios. Each attests with a join token
// of its own (AttestAgent with a CSR), then talks to the server over
// mTLS with its agent SVID as spire-agent does: SyncAuthorizedEntries
// (the paged path past 500 entries) and BatchNewX509SVID. Each agent
// dials from its own loopback address (127.x.y.z), so a per-address
// attestation rate limit sees 100 agents as 100 hosts, as in the field.
//
// Commands on stdin, one JSON line answered per command:
//	entries K [A]    create K more entries for every agent, or for the
//	                 first A (admin API, BatchCreateEntry, 500 a call)
//	sync             every agent syncs until it sees all its entries,
//	                 then gets an SVID for each new one (batches of 100)
//	mint A D W       A agents at once call BatchNewX509SVID with 100 of
//	                 their entries, back to back, for D seconds after W
//	                 seconds of warm-up
//	fullsync I       agent I syncs from an empty cache; time and bytes
//	change I K       update K of agent I's entries (admin API)
//	deltasync I K    agent I syncs from the cache it had before the
//	                 change, until K changed entries came down; the
//	                 sync that brought them all is the one reported
//	quit

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

const (
	entryBatch = 500 // entries per BatchCreateEntry call
	mintBatch  = 100 // CSRs per BatchNewX509SVID call
	parallel   = 8   // agents working at once in attest and sync
)

// What spire-agent asks SyncAuthorizedEntries for (pkg/agent/client).
var syncMask = &types.EntryMask{SpiffeId: true, Selectors: true,
	FederatesWith: true, Admin: true, Downstream: true,
	RevisionNumber: true, StoreSvid: true, Hint: true, CreatedAt: true}

// countConn counts the bytes a connection carries, TLS and HTTP/2
// framing included: what the link between agent and server sees.
type countConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

type fakeAgent struct {
	idx     int
	token   string
	src     net.IP
	id      spiffeid.ID
	key     *ecdsa.PrivateKey
	csr     []byte
	svid    *x509svid.SVID
	cc      *grpc.ClientConn
	in, out atomic.Int64
	created []*types.Entry          // entries made for it, in order
	cache   map[string]*types.Entry // what its last sync left
	minted  map[string]bool         // entry IDs it has an SVID for
	before  map[string]*types.Entry // cache before the last change
}

type fleet struct {
	server   string
	td       spiffeid.TrustDomain
	serverID spiffeid.ID
	bundle   *x509bundle.Bundle
	admin    *grpc.ClientConn
	agents   []*fakeAgent
	seq      int
}

func agents(args []string) int {
	fs := flag.NewFlagSet("agents", flag.ExitOnError)
	server := fs.String("server", "", "server host:port")
	admin := fs.String("admin", "", "server admin socket path")
	tdName := fs.String("td", "example.org", "trust domain")
	n := fs.Int("n", 1, "agents")
	_ = fs.Parse(args)
	if *server == "" || *admin == "" || *n < 1 || *n > 60000 {
		usage()
	}
	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		usage()
	}
	f := &fleet{server: *server, td: td,
		serverID: spiffeid.RequireFromPath(td, "/spire/server")}
	f.admin, err = grpc.NewClient("unix://"+*admin,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return fail("admin: %v", err)
	}
	defer f.admin.Close()
	t0 := time.Now()
	if err := f.start(*n); err != nil {
		return fail("%v", err)
	}
	emit(map[string]any{"ready": len(f.agents),
		"attest_s": time.Since(t0).Seconds()})
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) == 0 {
			continue
		}
		if w[0] == "quit" {
			break
		}
		res, err := f.command(w)
		if err != nil {
			emit(map[string]string{"error": err.Error()})
			continue
		}
		emit(res)
	}
	for _, a := range f.agents {
		if a.cc != nil {
			a.cc.Close()
		}
	}
	return 0
}

func ints(w []string, n int) ([]int, error) {
	if len(w) != n+1 {
		return nil, fmt.Errorf("%s: want %d numbers", w[0], n)
	}
	v := make([]int, n)
	for i := range v {
		x, err := strconv.Atoi(w[i+1])
		if err != nil || x < 0 {
			return nil, fmt.Errorf("%s: bad number %q", w[0],
				w[i+1])
		}
		v[i] = x
	}
	return v, nil
}

func (f *fleet) agent(i int) (*fakeAgent, error) {
	if i >= len(f.agents) {
		return nil, fmt.Errorf("no agent %d", i)
	}
	return f.agents[i], nil
}

func (f *fleet) command(w []string) (any, error) {
	switch w[0] {
	case "entries":
		if len(w) == 2 {
			w = append(w, strconv.Itoa(len(f.agents)))
		}
		v, err := ints(w, 2)
		if err != nil {
			return nil, err
		}
		return f.createEntries(v[0], min(v[1], len(f.agents)))
	case "sync":
		return f.syncAll()
	case "mint":
		v, err := ints(w, 3)
		if err != nil {
			return nil, err
		}
		return f.mint(v[0], time.Duration(v[1])*time.Second,
			time.Duration(v[2])*time.Second)
	case "fullsync":
		v, err := ints(w, 1)
		if err != nil {
			return nil, err
		}
		a, err := f.agent(v[0])
		if err != nil {
			return nil, err
		}
		return f.fullSync(a)
	case "change":
		v, err := ints(w, 2)
		if err != nil {
			return nil, err
		}
		a, err := f.agent(v[0])
		if err != nil {
			return nil, err
		}
		return f.change(a, v[1])
	case "deltasync":
		v, err := ints(w, 2)
		if err != nil {
			return nil, err
		}
		a, err := f.agent(v[0])
		if err != nil {
			return nil, err
		}
		return f.deltaSync(a, v[1])
	}
	return nil, fmt.Errorf("unknown command %q", w[0])
}

// each runs fn for every agent, parallel at a time; the first error wins.
func (f *fleet) each(fn func(a *fakeAgent) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, parallel)
	for _, a := range f.agents {
		wg.Add(1)
		sem <- struct{}{}
		go func(a *fakeAgent) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(a); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("agent %d: %w",
						a.idx, err)
				}
				mu.Unlock()
			}
		}(a)
	}
	wg.Wait()
	return first
}

func (f *fleet) start(n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := bundlev1.NewBundleClient(f.admin).GetBundle(ctx,
		&bundlev1.GetBundleRequest{})
	if err != nil {
		return fmt.Errorf("GetBundle: %w", err)
	}
	var roots []*x509.Certificate
	for _, a := range b.X509Authorities {
		c, err := x509.ParseCertificate(a.Asn1)
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 {
		return errors.New("bundle without X.509 authorities")
	}
	f.bundle = x509bundle.FromX509Authorities(f.td, roots)
	ac := agentv1.NewAgentClient(f.admin)
	// A random /16 of 127/8 per run: one address per agent.
	base := 1 + mrand.Intn(250)
	for i := 0; i < n; i++ {
		t, err := ac.CreateJoinToken(ctx,
			&agentv1.CreateJoinTokenRequest{Ttl: 600})
		if err != nil {
			return fmt.Errorf("CreateJoinToken: %w", err)
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		csr, err := x509.CreateCertificateRequest(rand.Reader,
			&x509.CertificateRequest{Subject: pkix.Name{
				Organization: []string{"bench"}}}, key)
		if err != nil {
			return err
		}
		f.agents = append(f.agents, &fakeAgent{idx: i, token: t.Value,
			src: net.IPv4(127, byte(base), byte(1+i/250),
				byte(1+i%250)),
			key: key, csr: csr, cache: map[string]*types.Entry{},
			minted: map[string]bool{}})
	}
	return f.each(f.attest)
}

func (f *fleet) dial(a *fakeAgent, tc *credentials.TransportCredentials) (
	*grpc.ClientConn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: a.src}}
	return grpc.NewClient(f.server,
		grpc.WithTransportCredentials(*tc),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (
			net.Conn, error) {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return countConn{Conn: c, in: &a.in, out: &a.out}, nil
		}))
}

func (f *fleet) attest(a *fakeAgent) error {
	auth := tlsconfig.AuthorizeID(f.serverID)
	tc := credentials.NewTLS(tlsconfig.TLSClientConfig(f.bundle, auth))
	cc, err := f.dial(a, &tc)
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := agentv1.NewAgentClient(cc).AttestAgent(ctx)
	if err != nil {
		return fmt.Errorf("AttestAgent: %w", err)
	}
	err = st.Send(&agentv1.AttestAgentRequest{
		Step: &agentv1.AttestAgentRequest_Params_{
			Params: &agentv1.AttestAgentRequest_Params{
				Data: &types.AttestationData{Type: "join_token",
					Payload: []byte(a.token)},
				Params: &agentv1.AgentX509SVIDParams{
					Csr: a.csr},
			}}})
	if err != nil {
		return fmt.Errorf("AttestAgent send: %w", err)
	}
	r, err := st.Recv()
	if err != nil {
		return fmt.Errorf("AttestAgent: %w", err)
	}
	res := r.GetResult()
	if res == nil || res.Svid == nil || len(res.Svid.CertChain) == 0 {
		return errors.New("AttestAgent: no SVID in the result")
	}
	_ = st.CloseSend()
	var certs []*x509.Certificate
	for _, der := range res.Svid.CertChain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("agent SVID: %w", err)
		}
		certs = append(certs, c)
	}
	id, err := x509svid.IDFromCert(certs[0])
	if err != nil {
		return fmt.Errorf("agent SVID: %w", err)
	}
	a.id = id
	a.svid = &x509svid.SVID{ID: id, Certificates: certs,
		PrivateKey: a.key}
	mtls := credentials.NewTLS(tlsconfig.MTLSClientConfig(a.svid,
		f.bundle, auth))
	a.cc, err = f.dial(a, &mtls)
	return err
}

func (f *fleet) createEntries(k, na int) (any, error) {
	var todo []*types.Entry
	var owner []*fakeAgent
	for _, a := range f.agents[:na] {
		for j := 0; j < k; j++ {
			f.seq++
			todo = append(todo, &types.Entry{
				ParentId: &types.SPIFFEID{
					TrustDomain: f.td.Name(),
					Path:        a.id.Path()},
				SpiffeId: &types.SPIFFEID{
					TrustDomain: f.td.Name(),
					Path: fmt.Sprintf("/bench/%d/w%d",
						a.idx, f.seq)},
				Selectors: []*types.Selector{{Type: "unix",
					Value: fmt.Sprintf("uid:%d",
						10000+f.seq)}},
			})
			owner = append(owner, a)
		}
	}
	ec := entryv1.NewEntryClient(f.admin)
	t0 := time.Now()
	for i := 0; i < len(todo); i += entryBatch {
		j := min(i+entryBatch, len(todo))
		ctx, cancel := context.WithTimeout(context.Background(),
			5*time.Minute)
		r, err := ec.BatchCreateEntry(ctx,
			&entryv1.BatchCreateEntryRequest{Entries: todo[i:j]})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("BatchCreateEntry: %w", err)
		}
		if len(r.Results) != j-i {
			return nil, fmt.Errorf("BatchCreateEntry: %d results "+
				"for %d entries", len(r.Results), j-i)
		}
		for n, res := range r.Results {
			if res.Status.GetCode() != 0 || res.Entry == nil {
				return nil, fmt.Errorf("BatchCreateEntry: %s",
					res.Status.GetMessage())
			}
			a := owner[i+n]
			a.created = append(a.created, res.Entry)
		}
	}
	s := time.Since(t0).Seconds()
	return map[string]any{"cmd": "entries", "created": len(todo),
		"s": s, "per_s": float64(len(todo)) / s}, nil
}

type syncStats struct {
	revisions int // entry revisions the server sent
	fetched   int // full entries the server sent
	stale     int // fetched entries that were in the cache, changed
}

// syncFrom runs one SyncAuthorizedEntries as spire-agent's client does:
// the first answer is either every entry, or the first page of (id,
// revision) pairs; after the last page the agent asks, a page at a
// time, for the entries it lacks or holds an older revision of.
func (f *fleet) syncFrom(a *fakeAgent, old map[string]*types.Entry) (
	map[string]*types.Entry, syncStats, error) {
	var s syncStats
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := entryv1.NewEntryClient(a.cc).SyncAuthorizedEntries(ctx)
	if err != nil {
		return nil, s, err
	}
	if err := st.Send(&entryv1.SyncAuthorizedEntriesRequest{
		OutputMask: syncMask}); err != nil {
		return nil, s, err
	}
	r, err := st.Recv()
	if err != nil {
		return nil, s, err
	}
	out := map[string]*types.Entry{}
	take := func(es []*types.Entry) {
		for _, e := range es {
			o, ok := old[e.Id]
			if ok && (o.RevisionNumber != e.RevisionNumber ||
				o.CreatedAt != e.CreatedAt) {
				s.stale++
			}
			out[e.Id] = e
			s.fetched++
		}
	}
	if len(r.EntryRevisions) == 0 {
		take(r.Entries)
		for r.More {
			if r, err = st.Recv(); err != nil {
				return nil, s, err
			}
			take(r.Entries)
		}
		_ = st.CloseSend()
		return out, s, nil
	}
	page := len(r.EntryRevisions)
	var need []string
	for {
		if len(r.Entries) != 0 {
			return nil, s, errors.New("entries among revisions")
		}
		for _, rev := range r.EntryRevisions {
			s.revisions++
			o, ok := old[rev.Id]
			if ok && o.RevisionNumber == rev.RevisionNumber &&
				(rev.CreatedAt == 0 ||
					o.CreatedAt == rev.CreatedAt) {
				out[rev.Id] = o
			} else {
				need = append(need, rev.Id)
			}
		}
		if !r.More {
			break
		}
		if r, err = st.Recv(); err != nil {
			return nil, s, err
		}
	}
	sort.Strings(need)
	for len(need) > 0 {
		n := min(len(need), page)
		if err := st.Send(&entryv1.SyncAuthorizedEntriesRequest{
			Ids: need[:n]}); err != nil {
			return nil, s, err
		}
		need = need[n:]
		for {
			if r, err = st.Recv(); err != nil {
				return nil, s, err
			}
			if len(r.EntryRevisions) != 0 {
				return nil, s, errors.New("revisions among " +
					"requested entries")
			}
			take(r.Entries)
			if !r.More {
				break
			}
		}
	}
	_ = st.CloseSend()
	return out, s, nil
}

// mintFor gets one SVID per entry, mintBatch CSRs a call; returns how
// many came back signed.
func (f *fleet) mintFor(a *fakeAgent, ids []string) (int, error) {
	sc := svidv1.NewSVIDClient(a.cc)
	ok := 0
	for i := 0; i < len(ids); i += mintBatch {
		j := min(i+mintBatch, len(ids))
		var p []*svidv1.NewX509SVIDParams
		for _, id := range ids[i:j] {
			p = append(p, &svidv1.NewX509SVIDParams{EntryId: id,
				Csr: a.csr})
		}
		ctx, cancel := context.WithTimeout(context.Background(),
			time.Minute)
		r, err := sc.BatchNewX509SVID(ctx,
			&svidv1.BatchNewX509SVIDRequest{Params: p})
		cancel()
		if err != nil {
			return ok, fmt.Errorf("BatchNewX509SVID: %w", err)
		}
		for _, res := range r.Results {
			if res.Status.GetCode() != 0 || res.Svid == nil {
				return ok, fmt.Errorf("BatchNewX509SVID: %s",
					res.Status.GetMessage())
			}
			ok++
		}
	}
	return ok, nil
}

func (f *fleet) syncAll() (any, error) {
	t0 := time.Now()
	var minted atomic.Int64
	err := f.each(func(a *fakeAgent) error {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			c, _, err := f.syncFrom(a, a.cache)
			if err != nil {
				return err
			}
			a.cache = c
			if len(c) >= len(a.created) {
				break
			}
			// The server's entry cache may lag the datastore
			// (spire-server reloads it every 5 s).
			if time.Now().After(deadline) {
				return fmt.Errorf("sync: %d of %d entries "+
					"after 2 minutes", len(c),
					len(a.created))
			}
			time.Sleep(250 * time.Millisecond)
		}
		var ids []string
		for id := range a.cache {
			if !a.minted[id] {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		n, err := f.mintFor(a, ids)
		minted.Add(int64(n))
		if err != nil {
			return err
		}
		for _, id := range ids {
			a.minted[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"cmd": "sync", "s": time.Since(t0).Seconds(),
		"minted": minted.Load()}, nil
}

func (f *fleet) mint(na int, d, warm time.Duration) (any, error) {
	if na < 1 || na > len(f.agents) || d <= 0 {
		return nil, errors.New("mint: bad agents or duration")
	}
	type work struct {
		a *fakeAgent
		p []*svidv1.NewX509SVIDParams
	}
	var ws []work
	for _, a := range f.agents[:na] {
		var ids []string
		for id := range a.cache {
			ids = append(ids, id)
		}
		if len(ids) < mintBatch {
			return nil, fmt.Errorf("mint: agent %d has %d "+
				"entries, fewer than a batch of %d", a.idx,
				len(ids), mintBatch)
		}
		sort.Strings(ids)
		var p []*svidv1.NewX509SVIDParams
		for _, id := range ids[:mintBatch] {
			p = append(p, &svidv1.NewX509SVIDParams{EntryId: id,
				Csr: a.csr})
		}
		ws = append(ws, work{a, p})
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lat     []time.Duration
		svids   int
		firstEr error
	)
	from := time.Now().Add(warm)
	end := from.Add(d)
	for _, w := range ws {
		wg.Add(1)
		go func(w work) {
			defer wg.Done()
			sc := svidv1.NewSVIDClient(w.a.cc)
			var l []time.Duration
			n := 0
			var ferr error
			for ferr == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				ctx, cancel := context.WithTimeout(
					context.Background(), time.Minute)
				r, err := sc.BatchNewX509SVID(ctx,
					&svidv1.BatchNewX509SVIDRequest{
						Params: w.p})
				cancel()
				t1 := time.Now()
				if err != nil {
					ferr = err
					break
				}
				good := 0
				for _, res := range r.Results {
					if res.Status.GetCode() == 0 &&
						res.Svid != nil {
						good++
					}
				}
				if good != len(w.p) {
					ferr = fmt.Errorf("%d of %d signed",
						good, len(w.p))
					break
				}
				if t0.Before(from) || t1.After(end) {
					continue
				}
				n += good
				l = append(l, t1.Sub(t0))
			}
			mu.Lock()
			svids += n
			lat = append(lat, l...)
			if firstEr == nil {
				firstEr = ferr
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	if firstEr != nil {
		return nil, fmt.Errorf("BatchNewX509SVID: %w", firstEr)
	}
	sortDurations(lat)
	return map[string]any{"cmd": "mint", "agents": na, "svids": svids,
		"s": d.Seconds(), "per_s": float64(svids) / d.Seconds(),
		"batch_p50_ms": us(quantile(lat, 0.5)) / 1e3,
		"batch_p99_ms": us(quantile(lat, 0.99)) / 1e3}, nil
}

func (f *fleet) measuredSync(a *fakeAgent, old map[string]*types.Entry) (
	map[string]*types.Entry, map[string]any, error) {
	in0, out0 := a.in.Load(), a.out.Load()
	t0 := time.Now()
	c, s, err := f.syncFrom(a, old)
	if err != nil {
		return nil, nil, err
	}
	el := time.Since(t0).Seconds()
	return c, map[string]any{"s": el, "entries": len(c),
		"revisions": s.revisions, "fetched": s.fetched,
		"stale": s.stale, "bytes_in": a.in.Load() - in0,
		"bytes_out": a.out.Load() - out0}, nil
}

func (f *fleet) fullSync(a *fakeAgent) (any, error) {
	// Wait until the server shows every entry, then time a sync from
	// an empty cache on the agent's open connection.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, _, err := f.syncFrom(a, a.cache)
		if err != nil {
			return nil, err
		}
		if len(c) >= len(a.created) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("fullsync: %d of %d entries",
				len(c), len(a.created))
		}
		time.Sleep(250 * time.Millisecond)
	}
	c, res, err := f.measuredSync(a, map[string]*types.Entry{})
	if err != nil {
		return nil, err
	}
	a.cache = c
	res["cmd"] = "fullsync"
	return res, nil
}

func (f *fleet) change(a *fakeAgent, k int) (any, error) {
	if k > len(a.created) {
		return nil, fmt.Errorf("change: agent %d has %d entries",
			a.idx, len(a.created))
	}
	a.before = a.cache
	var upd []*types.Entry
	// Spread the changes over the agent's entries, so they fall on
	// many sync pages rather than one.
	step := len(a.created) / k
	for i := 0; i < k; i++ {
		e := a.created[i*step]
		f.seq++
		upd = append(upd, &types.Entry{Id: e.Id,
			DnsNames: []string{fmt.Sprintf("c%d.bench.test",
				f.seq)}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	r, err := entryv1.NewEntryClient(f.admin).BatchUpdateEntry(ctx,
		&entryv1.BatchUpdateEntryRequest{Entries: upd,
			InputMask: &types.EntryMask{DnsNames: true}})
	if err != nil {
		return nil, fmt.Errorf("BatchUpdateEntry: %w", err)
	}
	for _, res := range r.Results {
		if res.Status.GetCode() != 0 {
			return nil, fmt.Errorf("BatchUpdateEntry: %s",
				res.Status.GetMessage())
		}
	}
	return map[string]any{"cmd": "change", "updated": len(upd),
		"s": time.Since(t0).Seconds()}, nil
}

func (f *fleet) deltaSync(a *fakeAgent, k int) (any, error) {
	if a.before == nil {
		return nil, errors.New("deltasync: no change made")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, res, err := f.measuredSync(a, a.before)
		if err != nil {
			return nil, err
		}
		if res["stale"].(int) >= k {
			a.cache = c
			res["cmd"] = "deltasync"
			return res, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("deltasync: %d of %d changes "+
				"after 2 minutes", res["stale"], k)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
