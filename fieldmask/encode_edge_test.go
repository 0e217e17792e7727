package fieldmask

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type edgeText struct{ X int }

func (r edgeText) MarshalText() ([]byte, error) { return []byte("t<&>"), nil }

type edgePtrMarsh struct{ X int }

func (r *edgePtrMarsh) MarshalJSON() ([]byte, error) { return []byte(`{"p" : 1}`), nil }

type edgeValMarsh struct{ X int }

func (r edgeValMarsh) MarshalJSON() ([]byte, error) { return []byte(`"<v>"`), nil }

type edgeKey int

func (k edgeKey) MarshalText() ([]byte, error) { return []byte{byte('a' + k)}, nil }

type edgeRec struct {
	A    int       `json:"a"`
	Next *edgeRec  `json:"next,omitempty"`
	Kids []edgeRec `json:"kids"`
	M    map[string]*edgeRec
}

type edgeE1 struct{ X, Y int }
type edgeE2 struct {
	X int
	Z int `json:"Y"`
}
type edgeConflict struct {
	edgeE1
	*edgeE2
	W int
}

type edgeAll struct {
	F0  float64 `json:",omitempty"`
	F1  float32
	F2  [0]int   `json:",omitempty"`
	F3  struct{} `json:",omitempty"`
	F4  []int    `json:",omitempty"`
	F5  map[edgeKey]int
	F6  map[int]string
	F7  json.Number `json:",string"`
	F8  json.RawMessage
	F9  *edgeValMarsh
	F10 edgePtrMarsh
	F11 *edgePtrMarsh
	F12 edgeText
	F13 map[edgeText]int
	F14 int    `json:",string"`
	F15 *bool  `json:",string"`
	F16 string `json:",string"`
	F17 any
	F18 []byte
	F19 [2]byte
	F20 time.Time `json:",omitempty"`
	F21 netip.Addr
	F22 uint8 `json:",string"`
	F23 map[string]any
	F24 []edgePtrMarsh
	F25 [2]edgePtrMarsh
	F26 map[string]edgePtrMarsh
	//lint:ignore SA5008 encoding/json ignores the option here, and so must the encoder
	F27 edgeValMarsh `json:",string"` //nolint:staticcheck // SA5008: encoding/json ignores the option here, and so must the encoder
	F28 *float64     `json:",string,omitempty"`
	F29 interface{ M() }
	F31 chan int `json:"-"`
	F32 []any
}

// Values chosen to hit the corners of encoding/json one by one (the generated
// values of TestMarshalMatchesEncodingJSON reach them only by chance): all must
// encode to the same bytes, or both fail.
func TestMarshalEdgeCases(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	tr := true
	fz := math.Copysign(0, -1)
	vals := []any{
		edgeAll{}, &edgeAll{}, edgeAll{F0: fz, F1: 1e21, F4: []int{}, F5: map[edgeKey]int{2: 1, 0: 2}, F6: map[int]string{-1: "\u2028\xff<"}, F7: "12", F8: json.RawMessage(` { "a" : [1, 2] } `), F9: &edgeValMarsh{}, F11: &edgePtrMarsh{}, F13: map[edgeText]int{{}: 1}, F15: &tr, F16: `a"b\<`, F17: edgePtrMarsh{}, F18: []byte{}, F23: map[string]any{"x": &edgePtrMarsh{}, "y": edgePtrMarsh{}, "z": []edgePtrMarsh{{}}}, F24: []edgePtrMarsh{{}}, F26: map[string]edgePtrMarsh{"a": {}}, F28: &fz, F32: []any{fz, float32(1e-7), 1e20, 1e21, json.Number("1e3")}},
		edgeConflict{edgeE1{1, 2}, &edgeE2{3, 4}, 5}, edgeConflict{edgeE1: edgeE1{1, 2}},
		&edgeRec{A: 1, Next: &edgeRec{A: 2}, Kids: []edgeRec{{A: 3}}, M: map[string]*edgeRec{"n": nil}},
		[]any{nil, (*edgeValMarsh)(nil), (*edgePtrMarsh)(nil), json.Marshaler(nil)},
		struct{ P *edgeValMarsh }{}, struct{ A any }{A: (*edgeValMarsh)(nil)},
		json.Number(""), json.RawMessage(nil), []json.RawMessage{nil},
		float32(16777216), float32(1e-7), float32(3.4e38),
		map[bool]int{true: 1}, map[float64]int(nil),
		struct {
			X []int `json:",omitzero"`
		}{X: []int{}},
		struct {
			T time.Time `json:",omitzero"`
		}{},
		struct {
			E struct{} `json:",omitzero"`
		}{},
		struct {
			A [0]int `json:",omitzero"`
		}{},
		struct {
			A [1]int `json:",omitempty"`
		}{},
		struct {
			A *int `json:",string"`
		}{},
		struct {
			//lint:ignore SA5008 encoding/json ignores the option here, and so must the encoder
			A **int `json:",string"` //nolint:staticcheck // SA5008: encoding/json ignores the option here, and so must the encoder
		}{A: new(*int)},
		struct {
			//lint:ignore SA5008 encoding/json ignores the option here, and so must the encoder
			A []int `json:",string"` //nolint:staticcheck // SA5008: encoding/json ignores the option here, and so must the encoder
		}{A: []int{1}},
		struct {
			A int `json:"a,string,omitempty"`
		}{A: 5},
		struct {
			//lint:ignore SA5008 encoding/json ignores the option here, and so must the encoder
			A interface{} `json:",string"` //nolint:staticcheck // SA5008: encoding/json ignores the option here, and so must the encoder
		}{A: 5},
		struct {
			A float64 `json:",string"`
		}{A: math.Inf(1)},
		math.NaN(),
		struct {
			A int `json:"é"`
			B int `json:"<b>"`
		}{},
		map[string]int{"<>&\u2028": 1},
		[]byte("\xff"),
		"\x00\x1f\x7f\u2029\ufffd\xc0\xaf",
	}
	failing := 0
	for i, v := range vals {
		t.Run(fmt.Sprintf("%d_%T", i, v), func(t *testing.T) {
			if !checkSame(t, c, v) {
				failing++
			}
		})
	}
	assert.Equal(t, 4, failing, "the NaN, +Inf and two unsupported-key cases fail, the rest encode")
}

// brokenText has a bad fieldmask tag, and a pointer-receiver MarshalJSON, so it
// is compiled as a struct (and fails) only where it is not addressable.
type brokenText struct {
	X int `fieldmask:"bogus"`
}

func (*brokenText) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

type brokenHolder struct {
	M map[string]brokenHolder // compiled while brokenHolder is
	B brokenText
}

// A compilation that fails leaves no encoder behind that refers to the one that
// failed: encoding the same types again reports the error instead of crashing.
func TestFailedCompileLeavesNothingBroken(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	for range 2 {
		_, err := c.Marshal(brokenHolder{}, All())
		require.ErrorContains(t, err, `unknown fieldmask tag "bogus"`)
		_, err = c.Marshal(map[string]brokenHolder{"a": {}}, All())
		require.ErrorContains(t, err, `unknown fieldmask tag "bogus"`)
		_, err = c.Marshal([]any{brokenHolder{}}, All())
		require.ErrorContains(t, err, `unknown fieldmask tag "bogus"`)
		_, err = c.Marshal(map[string]brokenHolder{"a": {}}, MustParse("M"))
		require.ErrorContains(t, err, `unknown fieldmask tag "bogus"`)
	}
	b, err := c.Marshal(&struct{ B brokenText }{}, All()) // addressable: MarshalJSON, no struct
	require.NoError(t, err)
	assert.Equal(t, `{"B":1}`, string(b))
}
