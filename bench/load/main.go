// benchload: the one client program bench/run.py drives against spirelet
// and against SPIRE v1.13.3, so that both are measured by the same code.
// bench/run.py builds it into a cache directory outside the repository.
//
//	benchload wl-fetch -socket S -kind x509|jwt -clients N -duration D
//	    Workload API latency and throughput: N clients, each on its own
//	    connection, call FetchX509SVID (first response of the stream) or
//	    FetchJWTSVID back to back; prints one JSON line.
//	benchload wl-first -socket S -want N -timeout T
//	    polls the Workload API until a FetchX509SVID response holds at
//	    least N SVIDs; prints CLOCK_MONOTONIC at that moment (JSON).
//	benchload sign -seconds S [-verify]
//	    ECDSA P-256 signatures (or verifications) per second with Go's
//	    crypto/ecdsa on one goroutine: the floor beside SPIRE's minting
//	    rate, as the wolfSSL loop is beside spirelet's.
//	benchload agents -server H:P -admin S -td TD -n N
//	    attests N fake agents with join tokens, then obeys commands read
//	    from stdin, one JSON line per command (see agents.go).
//
// Exit status: 0 done, 1 the peer failed (the measurement could not be
// taken; the JSON or stderr says why), 2 the tool was misused.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var rc int
	switch os.Args[1] {
	case "wl-fetch":
		rc = wlFetch(os.Args[2:])
	case "wl-first":
		rc = wlFirst(os.Args[2:])
	case "sign":
		rc = signRate(os.Args[2:])
	case "agents":
		rc = agents(os.Args[2:])
	default:
		usage()
	}
	os.Exit(rc)
}

func usage() {
	fmt.Fprintln(os.Stderr,
		"usage: benchload wl-fetch|wl-first|sign|agents [flags]")
	os.Exit(2)
}

// emit prints v as one JSON line on stdout.
func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchload: json:", err)
		os.Exit(2)
	}
	os.Stdout.Write(append(b, '\n'))
}

// fail reports why a measurement could not be taken and exits 1.
func fail(format string, args ...any) int {
	emit(map[string]string{"error": fmt.Sprintf(format, args...)})
	return 1
}

// monoNow is CLOCK_MONOTONIC in nanoseconds, the clock Python's
// time.monotonic_ns() reads, so the runner can subtract its own stamp.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Now().UnixNano()
	}
	return ts.Nano()
}

// quantile of sorted durations by nearest rank; q in (0, 1].
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// signRate signs a SHA-256 digest over and over, as a CA signs a
// certificate's TBS bytes.
func signRate(args []string) int {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	secs := fs.Float64("seconds", 1, "how long to sign")
	verify := fs.Bool("verify", false, "verify one signature instead")
	_ = fs.Parse(args)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fail("key: %v", err)
	}
	h := sha256.Sum256([]byte("benchload"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return fail("sign: %v", err)
	}
	n := 0
	t0 := time.Now()
	for time.Since(t0).Seconds() < *secs {
		for i := 0; i < 100; i++ {
			if *verify {
				if !ecdsa.VerifyASN1(&key.PublicKey, h[:],
					sig) {
					return fail("verify failed")
				}
			} else if _, err := ecdsa.SignASN1(rand.Reader, key,
				h[:]); err != nil {
				return fail("sign: %v", err)
			}
		}
		n += 100
	}
	emit(map[string]any{"per_s": float64(n) / time.Since(t0).Seconds()})
	return 0
}
