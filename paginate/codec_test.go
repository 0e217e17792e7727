package paginate

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewCodecValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		keys []Secret
		msg  string
	}{
		{"no key", nil, "no default key"},
		{"empty id", []Secret{{Key: make([]byte, 32)}}, "ID must be"},
		{"long id", []Secret{{ID: strings.Repeat("x", 33), Key: make([]byte, 32)}}, "ID must be"},
		{"short key", []Secret{{ID: "a", Key: make([]byte, 16)}}, "32-byte key"},
		{"duplicate", []Secret{testSecret("a", 1), testSecret("a", 2)}, "appears twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCodec(tc.keys...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestCodecRoundTripAndTamper(t *testing.T) {
	t.Parallel()
	c := testCodec(t)
	msg := []byte("boundary values")
	tok := c.seal(msg)
	assert.NotContains(t, tok, "boundary", "cursors are encrypted, not just encoded")
	assert.NotContains(t, tok, "=")
	assert.NotContains(t, tok, "+")
	assert.NotContains(t, tok, "/")
	got, err := c.open(tok)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	assert.NotEqual(t, tok, c.seal(msg), "every seal uses a fresh nonce")

	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	t.Run("every flipped bit is rejected", func(t *testing.T) {
		for i := range raw {
			for bit := range 8 {
				mod := append([]byte(nil), raw...)
				mod[i] ^= 1 << bit
				_, err := c.open(base64.RawURLEncoding.EncodeToString(mod))
				require.ErrorIs(t, err, ErrInvalidCursor, "byte %d bit %d", i, bit)
			}
		}
	})
	t.Run("every truncation is rejected", func(t *testing.T) {
		for n := range len(tok) {
			_, err := c.open(tok[:n])
			require.ErrorIs(t, err, ErrInvalidCursor, "truncated to %d", n)
		}
	})
	t.Run("appended bytes are rejected", func(t *testing.T) {
		_, err := c.open(base64.RawURLEncoding.EncodeToString(append(raw, 0)))
		assert.ErrorIs(t, err, ErrCursorForged)
	})
	t.Run("non-canonical base64 is rejected", func(t *testing.T) {
		// The last character of unpadded base64 carries spare bits that a
		// lenient decoder ignores; flip them.
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", tok[len(tok)-1])
		for d := 1; d < 4; d++ {
			alt := tok[:len(tok)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^d])
			_, err := c.open(alt)
			assert.ErrorIs(t, err, ErrInvalidCursor)
		}
	})
	t.Run("characters the decoder would skip are rejected", func(t *testing.T) {
		for _, s := range []string{tok[:10] + "\n" + tok[10:], tok + "\r\n", " " + tok, tok[:5] + "=" + tok[5:]} {
			_, err := c.open(s)
			assert.ErrorIs(t, err, ErrCursorMalformed, "%q", s)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, s := range []string{"", "!!", "AA", "AQ", "AQA", strings.Repeat("A", 5000), "padded=="} {
			_, err := c.open(s)
			assert.ErrorIs(t, err, ErrInvalidCursor, "%q", s)
			assert.ErrorIs(t, err, ErrCursorMalformed, "%q", s)
		}
	})
}

func TestCodecRotation(t *testing.T) {
	t.Parallel()
	oldC, err := NewCodec(testSecret("2026-10", 1))
	require.NoError(t, err)
	rotated, err := NewCodec(testSecret("2026-11", 2), testSecret("2026-10", 1))
	require.NoError(t, err)
	retired, err := NewCodec(testSecret("2026-11", 2))
	require.NoError(t, err)
	forger, err := NewCodec(testSecret("2026-11", 3)) // right ID, wrong key
	require.NoError(t, err)

	oldTok := oldC.seal([]byte("x"))
	got, err := rotated.open(oldTok)
	require.NoError(t, err, "old cursors open while the old key is listed")
	assert.Equal(t, []byte("x"), got)

	newTok := rotated.seal([]byte("y"))
	_, err = oldC.open(newTok)
	assert.ErrorIs(t, err, ErrCursorForged, "new key seals")
	_, err = retired.open(newTok)
	assert.NoError(t, err)

	_, err = retired.open(oldTok)
	assert.ErrorIs(t, err, ErrCursorForged, "retired keys no longer open")
	_, err = retired.open(forger.seal([]byte("y")))
	assert.ErrorIs(t, err, ErrCursorForged)
	assert.ErrorIs(t, err, ErrInvalidCursor)
}
