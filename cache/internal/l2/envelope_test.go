package l2

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte(`{"name":"gopher","id":42}`), 40)
	cases := []struct {
		name       string
		e          Entry
		compressAt int
		flate      bool
	}{
		{name: "value", e: Entry{Gen: 7, Created: 1, SoftExpiry: 2, Delta: 3, Payload: []byte(`"v"`)}},
		{name: "negative", e: Entry{Gen: 1 << 60, Negative: true, Created: -5}},
		{name: "empty payload", e: Entry{Gen: 1, Payload: []byte{}}},
		{name: "compressed", e: Entry{Gen: 9, Payload: long}, compressAt: 64, flate: true},
		{name: "below threshold", e: Entry{Gen: 9, Payload: long[:60]}, compressAt: 64},
		{name: "incompressible stays raw", e: Entry{Gen: 9, Payload: []byte{0x01, 0x9f, 0x33, 0x70, 0xfe}}, compressAt: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := Encode(nil, tc.e, tc.compressAt)
			assert.Equal(t, tc.flate, b[2]&flagFlate != 0)
			if tc.flate {
				assert.Less(t, len(b), headerLen+len(tc.e.Payload))
			}
			got, ok := Decode(b)
			require.True(t, ok)
			assert.Equal(t, tc.e.Gen, got.Gen)
			assert.Equal(t, tc.e.Negative, got.Negative)
			assert.Equal(t, tc.e.Created, got.Created)
			assert.Equal(t, tc.e.SoftExpiry, got.SoftExpiry)
			assert.Equal(t, tc.e.Delta, got.Delta)
			assert.Equal(t, len(tc.e.Payload), len(got.Payload))
			assert.True(t, bytes.Equal(tc.e.Payload, got.Payload))
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(nil, Entry{Gen: 1, Payload: []byte("x")}, 0)
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	cases := map[string][]byte{
		"nil":             nil,
		"short":           good[:headerLen-1],
		"bad magic":       mutate(func(b []byte) []byte { b[0] = 'x'; return b }),
		"future format":   mutate(func(b []byte) []byte { b[1] = 2; return b }),
		"older format":    mutate(func(b []byte) []byte { b[1] = 0; return b }),
		"unknown flag":    mutate(func(b []byte) []byte { b[2] |= 1 << 5; return b }),
		"negative+data":   mutate(func(b []byte) []byte { b[2] |= flagNegative; return b }),
		"bad flate":       mutate(func(b []byte) []byte { b[2] |= flagFlate; return append(b, 0xff, 0xff) }),
		"lease":           []byte(leaseValue("token")),
		"plain json":      []byte(`{"id":1}`),
		"go-redis/cache":  {0x81, 0xa2, 'i', 'd', 0x01, 0x00},
		"empty flate bit": mutate(func(b []byte) []byte { b[2] |= flagFlate; return b[:headerLen] }),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, ok := Decode(b)
			assert.False(t, ok)
		})
	}
	assert.True(t, isLease([]byte(leaseValue("t"))))
	assert.False(t, isLease(good))
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(nil, Entry{Gen: 1, Created: 2, SoftExpiry: 3, Delta: 4, Payload: []byte(`"x"`)}, 0))
	f.Add(Encode(nil, Entry{Gen: 1, Negative: true}, 0))
	f.Add(Encode(nil, Entry{Gen: 1, Payload: bytes.Repeat([]byte("ab"), 100)}, 1))
	f.Add([]byte(leaseValue("abc")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, ok := Decode(b)
		if !ok {
			return
		}
		// Whatever decodes re-encodes (uncompressed) to an envelope that decodes
		// to the same entry.
		again, ok := Decode(Encode(nil, e, 0))
		if !ok {
			t.Fatalf("re-encoded entry does not decode: %+v", e)
		}
		if again.Gen != e.Gen || again.Negative != e.Negative || again.Created != e.Created ||
			again.SoftExpiry != e.SoftExpiry || again.Delta != e.Delta || !bytes.Equal(again.Payload, e.Payload) {
			t.Fatalf("round trip changed the entry: %+v -> %+v", e, again)
		}
	})
}
