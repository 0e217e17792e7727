package paginate

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testSecret(id string, fill byte) Secret {
	return Secret{ID: id, Key: bytes.Repeat([]byte{fill}, 32)}
}

func testCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec(testSecret("k1", 1))
	require.NoError(t, err)
	return c
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func testPaginator(t testing.TB, s *Sort, mod func(*Options)) *Paginator {
	t.Helper()
	o := Options{Sort: s, Codec: testCodec(t), DefaultLimit: 3, MaxLimit: 10}
	if mod != nil {
		mod(&o)
	}
	p, err := New(o)
	require.NoError(t, err)
	return p
}
