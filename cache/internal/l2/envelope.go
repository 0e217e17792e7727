package l2

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
)

// Envelope layout, format 1 (all integers little-endian):
//
//	0      magic 0xB7
//	1      format (1)
//	2      flags: bit 0 negative, bit 1 payload flate-compressed; other bits must be 0
//	3..10  generation (uint64): the namespace version the value was loaded under
//	11..18 created-at (int64, Unix ns)
//	19..26 soft expiry (int64, Unix ns; 0 = none)
//	27..34 recompute time (int64 ns: how long the load took)
//	35..   payload (codec bytes; empty for a negative entry)
//
// A lease placeholder is magic, 'L', then the holder's token.
const (
	magic        = 0xB7
	format1      = 1
	formatLease  = 'L'
	headerLen    = 35
	flagNegative = 1 << 0
	flagFlate    = 1 << 1
	knownFlags   = flagNegative | flagFlate

	// maxInflated bounds a decompressed payload, so corrupt or hostile bytes cannot
	// make a decoder allocate without limit.
	maxInflated = 64 << 20
)

// errCorrupt reports bytes that are not an envelope this version can read. It
// never leaves the package: such bytes are a miss.
var errCorrupt = errors.New("l2: not a readable envelope")

// Entry is one value in the envelope. Times are Unix nanoseconds on the cache's
// clock.
type Entry struct {
	// Gen is the namespace version the value was loaded under. [Store.Put] and
	// [Store.Set] fill it in.
	Gen uint64
	// Negative marks a remembered "not found"; Payload is then empty.
	Negative bool
	// Created is when the value was made.
	Created int64
	// SoftExpiry is when the value stops being fresh (0: never). The Redis key
	// itself lives until the hard expiry given to [Store.Put].
	SoftExpiry int64
	// Delta is how long the load took: the recompute time XFetch needs.
	Delta int64
	// Payload is the codec's encoding of the value.
	Payload []byte

	// Raw is the envelope as read from Redis (nil for an entry that was not read):
	// what [Store.Reclaim] and [Store.Refill] compare the key with.
	Raw []byte
	// Stale marks a hit past its soft expiry, served under [Options.ServeStale].
	// It is not part of the envelope.
	Stale bool
}

// Encode appends the envelope of e to dst and returns it. Payloads of at least
// compressAt bytes are flate-compressed when that makes them shorter
// (compressAt <= 0: never).
func Encode(dst []byte, e Entry, compressAt int) []byte {
	flags := byte(0)
	if e.Negative {
		flags |= flagNegative
	}
	payload := e.Payload
	if compressAt > 0 && len(payload) >= compressAt && !e.Negative {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		_, _ = w.Write(payload)
		_ = w.Close()
		if buf.Len() < len(payload) {
			payload = buf.Bytes()
			flags |= flagFlate
		}
	}
	dst = append(dst, magic, format1, flags)
	dst = binary.LittleEndian.AppendUint64(dst, e.Gen)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Created))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.SoftExpiry))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Delta))
	return append(dst, payload...)
}

// Decode parses an envelope. ok is false for bytes this format cannot read: a
// lease placeholder, an unknown format or flag, a short or corrupt value. The
// returned Payload may alias b.
func Decode(b []byte) (e Entry, ok bool) {
	e, err := decode(b)
	return e, err == nil
}

func decode(b []byte) (Entry, error) {
	if len(b) < headerLen || b[0] != magic || b[1] != format1 {
		return Entry{}, errCorrupt
	}
	flags := b[2]
	if flags&^knownFlags != 0 {
		return Entry{}, errCorrupt
	}
	e := Entry{
		Gen:        binary.LittleEndian.Uint64(b[3:]),
		Negative:   flags&flagNegative != 0,
		Created:    int64(binary.LittleEndian.Uint64(b[11:])),
		SoftExpiry: int64(binary.LittleEndian.Uint64(b[19:])),
		Delta:      int64(binary.LittleEndian.Uint64(b[27:])),
		Payload:    b[headerLen:],
	}
	if e.Negative && (len(e.Payload) != 0 || flags&flagFlate != 0) {
		return Entry{}, errCorrupt
	}
	if flags&flagFlate != 0 {
		r := flate.NewReader(bytes.NewReader(e.Payload))
		out, err := io.ReadAll(io.LimitReader(r, maxInflated+1))
		_ = r.Close()
		if err != nil || len(out) > maxInflated {
			return Entry{}, errCorrupt
		}
		e.Payload = out
	}
	return e, nil
}

// leaseValue is the placeholder stored in a data key while token holds its lease.
func leaseValue(token string) string {
	return string([]byte{magic, formatLease}) + token
}

// isLease reports whether b is a lease placeholder.
func isLease(b []byte) bool {
	return len(b) >= 2 && b[0] == magic && b[1] == formatLease
}
