package fieldmask

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSafe8(t *testing.T) {
	t.Parallel()
	isSafe := func(b byte) bool { return b < utf8.RuneSelf && htmlSafe[b] }
	for b := range 256 {
		for pos := range 8 {
			w := []byte("abcdefgh")
			w[pos] = byte(b)
			assert.Equal(t, isSafe(byte(b)), safe8(binary.LittleEndian.Uint64(w)), "byte %#x at %d", b, pos)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		x := r.Uint64()
		if r.IntN(2) == 0 {
			x &^= msb // mostly ASCII
		}
		want := true
		for i := range 8 {
			want = want && isSafe(byte(x>>(8*i)))
		}
		require.Equal(t, want, safe8(x), "%#x", x)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text, long enough for words", "<a href=\"x\">&amp;</a>", "\u2028\u2029", "\xff\xfe", "tab\there", "é😀\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}
