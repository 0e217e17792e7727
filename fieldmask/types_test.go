package fieldmask

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
)

// Types exercising every encoding/json rule the encoder must reproduce.

type valMarsh struct{ X int }

func (v valMarsh) MarshalJSON() ([]byte, error) {
	if v.X == 13 {
		return nil, errors.New("unlucky")
	}
	if v.X == 14 {
		return []byte(`{"broken"`), nil
	}
	return fmt.Appendf(nil, " { \"x\" : %d ,\n\t\"s\" : \"<&>\u2028\\\" \\u003c\" , \"a\": [ 1 , 2 ] } ", v.X), nil
}

type ptrMarsh struct{ S string }

func (p *ptrMarsh) MarshalJSON() ([]byte, error) { return json.Marshal("p:" + p.S) }

type valText int

func (v valText) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "t<%d>", int(v)), nil }

type ptrText struct{ N int }

func (p *ptrText) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "pt&%d", p.N), nil }

type textKey struct{ A, B uint8 }

func (k textKey) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%d/%d", k.A, k.B), nil }

type zeroer struct{ N int }

func (z zeroer) IsZero() bool { return z.N%2 == 0 }

type ptrZeroer struct{ N int }

func (z *ptrZeroer) IsZero() bool { return z.N%3 == 0 }

type namedString string

type namedBytes []byte

type Embedded struct {
	E1     int
	Shadow string `json:"shadow"`
	Dup3   int
	Other  int `json:"Tg"` // tagged: wins over the untagged Tg at the same depth
}

type EmbP struct {
	P1 string
	P2 *int `json:"p2,omitempty"`
}

type embedUnexported struct {
	U1 int
}

type EmbTagged struct{ X, Y int }

type ExpInt int

//lint:ignore U1000 an unexported embedded non-struct must be skipped
type unexpInt int

type embedUnexportedPtr struct{ Q string }

type Conflict1 struct{ Dup int }
type Conflict2 struct {
	Dup  int
	Dup3 int
	Tg   int
}

type Inner struct {
	A    int      `json:"a"`
	B    string   `json:"b,omitempty"`
	Deep *Inner   `json:"deep,omitempty"`
	Tags []string `json:"tags"`
}

type Big struct {
	Embedded
	*EmbP
	embedUnexported
	Conflict1
	Conflict2
	EmbTagged `json:"embt"`
	ExpInt
	//lint:ignore U1000 an unexported embedded non-struct must be skipped
	unexpInt
	*embedUnexportedPtr
	Shadow int
	B      bool
	I      int
	I8     int8
	I16    int16
	I32    int32
	I64    int64
	U      uint
	U8     uint8
	U16    uint16
	U32    uint32
	U64    uint64
	Uptr   uintptr
	F32    float32
	F64    float64
	S      string
	NS     namedString
	Str    string  `json:"str,string"`
	IStr   int     `json:",string"`
	PIStr  *int    `json:"pistr,string"`
	BStr   bool    `json:"bstr,string"`
	FStr   float64 `json:"fstr,string,omitempty"`
	TStr   valText `json:"tstr,string"`
	Bytes  []byte  `json:"bytes"`
	NB     namedBytes
	Arr    [3]uint8
	Arr0   [0]int `json:",omitempty"`
	Sl     []string
	SlOmit []int `json:",omitempty"`
	M      map[string]int
	MI     map[int]string
	MU     map[uint8]bool
	MT     map[textKey]int
	MS     map[string]Inner
	MP     map[string]*ptrMarsh
	MPV    map[string]ptrMarsh
	MPT    map[string]ptrText
	P      *Inner
	PP     **Inner
	T      time.Time
	TP     *time.Time `json:",omitempty"`
	VM     valMarsh
	PVM    *valMarsh
	PM     ptrMarsh
	PMP    *ptrMarsh
	PMs    []ptrMarsh
	PMa    [2]ptrMarsh
	VT     valText
	PT     ptrText
	Any    any
	Num    json.Number
	Z      zeroer         `json:",omitzero"`
	PZ     ptrZeroer      `json:",omitzero"`
	OZ     int            `json:",omitzero"`
	ZP     *zeroer        `json:",omitzero"`
	PZP    *ptrZeroer     `json:",omitzero"`
	IZ     isZeroer       `json:",omitzero"`
	OEU16  uint16         `json:",omitempty"`
	OEI32  int32          `json:",omitempty"`
	OEF32  float32        `json:",omitempty"`
	OEZ    zeroer         `json:",omitempty,omitzero"`
	OZT    time.Time      `json:",omitzero"`
	OE     string         `json:",omitempty"`
	OEP    *int           `json:",omitempty"`
	OEF    float64        `json:",omitempty"`
	OEB    bool           `json:",omitempty"`
	OEM    map[string]int `json:",omitempty"`
	OEA    any            `json:",omitempty"`
	Ign    int            `json:"-"`
	//lint:ignore SA5008 a field named "-" is part of what is tested
	Dash int `json:"-,"` //nolint:staticcheck // SA5008: a field named "-" is part of what is tested
	//lint:ignore U1000 unexported fields must be skipped
	unexp int
	Weird string `json:"a&b<c>"`
	//lint:ignore SA5008 an invalid tag name falls back to the Go name
	Bad    string `json:"bad\"name"` //nolint:staticcheck // SA5008: an invalid tag name falls back to the Go name
	Inners []Inner
	Rec    *Big `json:"rec,omitempty"`
	Raw    json.RawMessage
	PRaw   *json.RawMessage `json:",omitempty"`
	OEIn   Inner            `json:",omitempty"` // a struct is never empty
	OEArr  [2]int           `json:",omitempty"` // nor an array of length > 0
	PSStr  *string          `json:",string"`
	//lint:ignore SA5008 encoding/json ignores the option here, and so must the encoder
	PPIStr **int `json:",string"` //nolint:staticcheck // SA5008: encoding/json ignores the option here, and so must the encoder
	Anys   []any
	MAny   map[string]any
	Empty  struct{}
	MI8    map[int8]string
}

// gen fills values deterministically from a byte stream.
type gen struct {
	data []byte
	i    int
}

func (g *gen) byte() byte {
	if g.i >= len(g.data) {
		g.i++
		return byte(g.i * 131)
	}
	b := g.data[g.i]
	g.i++
	return b
}

func (g *gen) u64() uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(g.byte())
	}
	return v
}

// small returns an int biased to small magnitudes, which exercise the interesting
// cases (zero, omitempty) more often.
func (g *gen) small() int64 {
	switch b := g.byte(); b % 4 {
	case 0:
		return 0
	case 1:
		return int64(int8(g.byte()))
	case 2:
		return int64(int16(uint16(g.byte())<<8 | uint16(g.byte())))
	}
	return int64(g.u64())
}

var pieces = []string{"", "a", "<", ">", "&", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
	"\u2028", "\u2029", "é", "😀", "\xff", "\xe2\x80", "\xed\xa0\x80", "hello", "/", "'", "\u00a0", "\ufffd"}

func (g *gen) str() string {
	n := int(g.byte() % 6)
	s := ""
	for range n {
		if b := g.byte(); b%3 == 0 {
			s += string(rune(g.byte()))
		} else {
			s += pieces[int(b)%len(pieces)]
		}
	}
	return s
}

func (g *gen) float(bits int) float64 {
	switch g.byte() % 8 {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return float64(g.small()) / 8
	case 3:
		return math.Pow(10, float64(int8(g.byte())%30)) * float64(g.small())
	}
	var f float64
	if bits == 32 {
		f = float64(math.Float32frombits(uint32(g.u64())))
	} else {
		f = math.Float64frombits(g.u64())
	}
	if (math.IsNaN(f) || math.IsInf(f, 0)) && g.byte() != 0xff {
		return 1.5 // NaN and ±Inf are errors for both encoders: keep them rare
	}
	return f
}

func (g *gen) time() time.Time {
	sec := g.small() % (1 << 34) // within years 1425..2514
	if g.byte() == 0xff {
		sec = int64(g.u64() % (1 << 40)) // years past 9999: an error for both encoders
	}
	zones := []*time.Location{time.UTC, time.FixedZone("A", 3600), time.FixedZone("B", -(5*3600 + 1800)),
		time.FixedZone("D", 59), time.FixedZone("E", -59)}
	zone := zones[int(g.byte())%len(zones)]
	if g.byte() == 0xff {
		zone = time.FixedZone("C", 25*3600) // an error for both encoders
	}
	return time.Unix(sec, int64(g.byte())*1000003).In(zone)
}

func (g *gen) anyValue(depth int) any {
	switch g.byte() % 11 {
	case 0:
		return nil
	case 1:
		return g.small()
	case 2:
		return g.str()
	case 3:
		return g.float(64)
	case 4:
		var in Inner
		g.fill(reflect.ValueOf(&in).Elem(), depth+1)
		return in
	case 5:
		if depth > 3 {
			return nil
		}
		return []any{g.anyValue(depth + 1), g.anyValue(depth + 1)}
	case 6:
		if depth > 3 {
			return true
		}
		return map[string]any{g.str(): g.anyValue(depth + 1)}
	case 7:
		return &ptrMarsh{S: g.str()}
	case 8:
		return zeroer{N: int(g.small())}
	case 9:
		if g.byte()%2 == 0 {
			return (*zeroer)(nil)
		}
		return &zeroer{N: int(g.small())}
	}
	return valText(g.small())
}

func (g *gen) fill(v reflect.Value, depth int) {
	if !v.CanSet() {
		return
	}
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(g.time()))
		return
	case reflect.TypeFor[json.RawMessage]():
		raws := []string{"", "null", " { \"a\" : [ 1 , \"<&>\u2028\" ] } ", "\t12.5e3\n", "\"\\u00e9\"", "[]"}
		if r := raws[int(g.byte())%len(raws)]; r != "" {
			v.SetBytes([]byte(r))
		}
		if g.byte() == 0xff {
			v.SetBytes([]byte("{")) // an error for both encoders
		}
		return
	case reflect.TypeFor[json.Number]():
		nums := []string{"", "0", "-1.5e10", "12", "3.25E-7", "-0", "0.5e+3"}
		v.SetString(nums[int(g.byte())%len(nums)])
		if g.byte() == 0xff {
			v.SetString("1.") // an error for both encoders
		}
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(g.byte()%2 == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(g.small())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(g.small()))
	case reflect.Float32:
		v.SetFloat(float64(float32(g.float(32))))
	case reflect.Float64:
		v.SetFloat(g.float(64))
	case reflect.String:
		v.SetString(g.str())
	case reflect.Interface:
		if a := g.anyValue(depth); a != nil && reflect.TypeOf(a).Implements(v.Type()) {
			v.Set(reflect.ValueOf(a))
		}
	case reflect.Pointer:
		if depth > 4 || g.byte()%3 == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		g.fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		b := g.byte()
		if b%5 == 0 || depth > 4 {
			return
		}
		s := reflect.MakeSlice(v.Type(), int(b%4), int(b%4))
		for i := range s.Len() {
			g.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			g.fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		b := g.byte()
		if b%5 == 0 || depth > 4 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for range int(b % 4) {
			k := reflect.New(v.Type().Key()).Elem()
			g.fill(k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			g.fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			g.fill(v.Field(i), depth+1)
		}
	}
}
