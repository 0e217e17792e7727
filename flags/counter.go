package flags

import (
	"sync/atomic"
	"unsafe"
)

const stripes = 8

// counter is an evaluation counter striped over cache lines, so that
// goroutines evaluating the same variant in parallel rarely write the same
// line. Adding is one uncontended atomic add: it never blocks.
type counter struct {
	s [stripes]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

// add increments a stripe chosen from the address of the caller's stack,
// which differs between goroutines (and is free to read).
func (c *counter) add() {
	var marker byte
	p := uint64(uintptr(unsafe.Pointer(&marker)))
	c.s[((p>>10)*0x9E3779B97F4A7C15)>>61].n.Add(1)
}

func (c *counter) load() uint64 {
	var n uint64
	for i := range c.s {
		n += c.s[i].n.Load()
	}
	return n
}
