// Command loadgen drives examples/api with a realistic mix of traffic and
// prints what stout changed, in numbers.
//
//	go run ./examples/loadgen -target http://localhost:8080 -duration 10s
//	go run ./examples/loadgen -compare   # then the same mix on the naive endpoints
//
// The mix: reads of the composite user resource with zipf-distributed ids
// (a few users are very popular, as in real services) and random include and
// fields parameters, short list walks that follow cursors, one crawler that
// walks the whole list, some writes each followed by a read that must see
// them, and a few abusive clients that send far more than the rate limit.
//
// Normal traffic comes from a population of client addresses and each abusive
// client from its own, sent as X-Forwarded-For; start the api with
// -trust-loopback-proxy so that it believes them (it does so only for peers on
// loopback). loadgen refuses targets that are not on loopback: it is a demo,
// not a load-testing tool to point at other people's machines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Bounds on what one run may do.
const (
	maxDuration    = 5 * time.Minute
	maxConcurrency = 64
	maxAbusers     = 8
	abuserRate     = 200 // requests per second per abusive client
)

type options struct {
	target      *url.URL
	duration    time.Duration
	concurrency int
	abusers     int
	compare     bool
	check       bool
	seed        uint64
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	target := fs.String("target", "http://localhost:8080", "base URL of examples/api (loopback only)")
	var o options
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each phase runs (at most 5m)")
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent well-behaved workers (at most 64)")
	fs.IntVar(&o.abusers, "abusers", 3, "abusive clients, each sending 200 requests/s (at most 8)")
	fs.BoolVar(&o.compare, "compare", false, "run the same mix again against the naive endpoints and compare")
	fs.BoolVar(&o.check, "check", false, "exit non-zero unless there were cache hits, 429s for every abusive client, no 5xx and no stale read after a write")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed of the mix")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	u, err := checkTarget(*target)
	if err != nil {
		return err
	}
	o.target = u
	switch {
	case o.duration <= 0 || o.duration > maxDuration:
		return fmt.Errorf("-duration %v: must be in (0, %v]", o.duration, maxDuration)
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return fmt.Errorf("-concurrency %d: must be in [1, %d]", o.concurrency, maxConcurrency)
	case o.abusers < 0 || o.abusers > maxAbusers:
		return fmt.Errorf("-abusers %d: must be in [0, %d]", o.abusers, maxAbusers)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	g := newGen(o)
	if err := g.waitReady(ctx); err != nil {
		return err
	}
	res, err := g.phase(ctx, modeStout)
	if err != nil {
		return err
	}
	res.print(os.Stdout)
	var naive *result
	if o.compare {
		naive, err = g.phase(ctx, modeNaive)
		if err != nil {
			return err
		}
		naive.print(os.Stdout)
		compare(os.Stdout, res, naive)
	}
	if o.check {
		if problems := res.problems(o); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "check failed:", p)
			}
			return errors.New("check failed")
		}
		fmt.Println("check: ok")
	}
	return nil
}

// checkTarget accepts only http(s) URLs whose host is, or resolves only to,
// loopback addresses.
func checkTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-target %q: want an http:// or https:// URL", raw)
	}
	host := u.Hostname()
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.LookupIP(host)
		if err != nil {
			return nil, fmt.Errorf("-target %q: %w", raw, err)
		}
		ips = addrs
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("-target %q: host has no address", raw)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("-target %q: %s is not a loopback address; loadgen only drives a local examples/api", raw, ip)
		}
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}
