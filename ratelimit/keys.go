package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// KeyFunc names the bucket a request is charged to. The empty string means
// the request is not limited.
type KeyFunc func(r *http.Request) string

// KeyByIP keys requests by client IP address ("ip:<addr>"; IPv6 clients by
// their /64, since one host usually holds a whole /64).
//
// The client is the peer that connected (Request.RemoteAddr) unless that
// peer is in trusted: only then is X-Forwarded-For read, from the right,
// skipping trusted proxies, and the first address not in trusted is the
// client. X-Forwarded-For from any other peer is ignored, so a client cannot
// pick its own key by sending the header. With no trusted prefixes (the
// default) the header is never read.
func KeyByIP(trusted ...netip.Prefix) KeyFunc {
	trusted = append([]netip.Prefix(nil), trusted...)
	return func(r *http.Request) string {
		a := ClientIP(r, trusted)
		if !a.IsValid() {
			return "ip:" + r.RemoteAddr
		}
		if a.Is6() {
			a = netip.PrefixFrom(a, 64).Masked().Addr()
		}
		return "ip:" + a.String()
	}
}

// ClientIP returns the client address of r as [KeyByIP] finds it: the peer,
// or, when the peer is in trusted, the rightmost X-Forwarded-For address that
// is not. IPv4-mapped IPv6 addresses are unmapped. It returns the zero Addr
// if RemoteAddr is not an address.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		for h != "" {
			var part string
			if j := strings.LastIndexByte(h, ','); j >= 0 {
				part, h = h[j+1:], h[:j]
			} else {
				part, h = h, ""
			}
			a := parseAddr(strings.TrimSpace(part))
			if !a.IsValid() {
				// A trusted proxy passed on garbage: the last address we can
				// vouch for is the client.
				return client
			}
			client = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
	}
	return client
}

// parseAddr parses "addr", "addr:port" or "[v6]:port".
func parseAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// KeyByHeader keys requests by the value of a header, such as an API key
// ("hdr:<name>:<value>"). Requests without the header are not limited by
// it; combine with [FirstKey] to fall back to the client IP.
func KeyByHeader(name string) KeyFunc {
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) string {
		v := r.Header.Get(name)
		if v == "" {
			return ""
		}
		return "hdr:" + name + ":" + v
	}
}

// KeyByUser keys requests by the user that user returns, typically read from
// the request's context by an authentication middleware ("user:<id>").
// Requests with no user are not limited by it.
func KeyByUser(user func(r *http.Request) string) KeyFunc {
	return func(r *http.Request) string {
		if u := user(r); u != "" {
			return "user:" + u
		}
		return ""
	}
}

// FirstKey returns the first non-empty key of fns, e.g.
// FirstKey(KeyByUser(userID), KeyByIP(proxies...)): signed-in users by
// user, everyone else by IP.
func FirstKey(fns ...KeyFunc) KeyFunc {
	return func(r *http.Request) string {
		for _, f := range fns {
			if k := f(r); k != "" {
				return k
			}
		}
		return ""
	}
}
