package fieldmask

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkSame fails unless c encodes v under All() exactly as json.Marshal does
// (both succeed with the same bytes, or both fail).
func checkSame(t *testing.T, c *Codec, v any) bool {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, gotErr := c.Marshal(v, All())
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("errors differ for %T: encoding/json %v, fieldmask %v\njson: %s\nours: %s", v, wantErr, gotErr, want, got)
	}
	if wantErr == nil && !bytes.Equal(want, got) {
		t.Fatalf("bytes differ for %T\njson: %s\nours: %s", v, want, got)
	}
	return wantErr == nil
}

// differential reports whether encoding succeeded (an error ends the output
// early, so the test keeps errors rare).
func differential(t *testing.T, c *Codec, data []byte) bool {
	t.Helper()
	g := &gen{data: data}
	var b Big
	g.fill(reflect.ValueOf(&b).Elem(), 0)
	ok := checkSame(t, c, &b) // addressable: pointer-receiver methods apply
	checkSame(t, c, b)        // not addressable: they do not
	bs := []Big{b, {}}
	checkSame(t, c, bs)
	checkSame(t, c, &bs)
	checkSame(t, c, map[string]Big{"k": b})
	a := b.Any
	checkSame(t, c, a)
	checkSame(t, c, b.Inners)
	checkSame(t, c, &b.PMa)
	if ok {
		checkMasked(t, c, &b, g)
	}
	return ok
}

// checkMasked encodes v under a mask of some of its top-level fields, chosen by
// g, and fails unless the output is encoding/json's output of v with only those
// members, byte for byte and in the same order.
func checkMasked(t *testing.T, c *Codec, v *Big, g *gen) {
	t.Helper()
	full, err := json.Marshal(v)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(full))
	_, err = dec.Token() // {
	require.NoError(t, err)
	want := []byte{'{'}
	var names []string
	for dec.More() {
		key, err := dec.Token()
		require.NoError(t, err)
		var raw json.RawMessage
		require.NoError(t, dec.Decode(&raw))
		if g.byte()%3 != 0 {
			continue
		}
		name := key.(string)
		names = append(names, "`"+name+"`")
		if len(want) > 1 {
			want = append(want, ',')
		}
		k, err := json.Marshal(name)
		require.NoError(t, err)
		want = append(append(append(want, k...), ':'), raw...)
	}
	want = append(want, '}')
	m, err := ParseLimits(strings.Join(names, ","), Limits{MaxLength: -1, MaxDepth: -1, MaxPaths: -1})
	require.NoError(t, err)
	got, err := c.Marshal(v, m)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "mask %s", m)
}

func TestMarshalMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() || raceEnabled {
		n = 200
	}
	succeeded := 0
	for range n {
		data := make([]byte, 64+r.IntN(512))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if differential(t, c, data) {
			succeeded++
		}
	}
	// Most values must encode completely, or the comparison sees little.
	assert.Greater(t, succeeded, n*8/10)
}

func FuzzMarshalFull(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("hello <world> & \u2028 \xff"))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 40))
	c := MustNew(&Options{CacheSize: 64})
	f.Fuzz(func(t *testing.T, data []byte) {
		differential(t, c, data)
	})
}

func TestMarshalTable(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	seven := 7
	ts := time.Date(2024, 2, 29, 13, 4, 5, 123456789, time.FixedZone("", -7*3600))
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"int", 42},
		{"string", "a<b>&\u2028\xff"},
		{"nil pointer", (*Inner)(nil)},
		{"nil slice", []int(nil)},
		{"empty slice", []int{}},
		{"bytes", []byte("hello")},
		{"nil map", map[string]int(nil)},
		{"map order", map[string]int{"b": 1, "a": 2, "<": 3}},
		{"int keys sort as strings", map[int]bool{10: true, 9: false, -1: true}},
		{"text keys", map[textKey]int{{1, 2}: 3, {0, 9}: 1}},
		{"time", ts},
		{"time pointer", &ts},
		{"float formats", []float64{0, 1, -1.5, 1e-7, 1e21, 123456789.125, 1e20, 5e-324}},
		{"float32", []float32{0.1, 1e-7, 3.4e38}},
		{"json.Number", json.Number("-1.5e10")},
		{"string option", struct {
			S string  `json:",string"`
			I *int    `json:",string"`
			N *int    `json:",string"`
			F float32 `json:",string"`
		}{S: `a"b\c<`, I: &seven}},
		{"marshalers", struct {
			V  valMarsh
			P  ptrMarsh
			PP *ptrMarsh
			T  valText
			PT *ptrText
		}{V: valMarsh{1}, P: ptrMarsh{"x"}, T: 3}},
		{"embedded", Big{Embedded: Embedded{E1: 1, Shadow: "s", Dup3: 3, Other: 6}, EmbP: &EmbP{P1: "p"}, Conflict1: Conflict1{1}, Conflict2: Conflict2{2, 4, 5}}},
		{"interface", []any{nil, 1, "x", Inner{A: 1}, &ptrMarsh{"y"}, map[string]any{"k": []any{true}}}},
		{"anonymous struct", struct{ A, B int }{1, 2}},
		{"array", [2][2]int{{1, 2}, {3, 4}}},
		{"negative zero omitempty", struct {
			F float64 `json:",omitempty"`
		}{F: math.Copysign(0, -1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSame(t, c, tt.v)
			if tt.v != nil && reflect.TypeOf(tt.v).Kind() != reflect.Pointer {
				p := reflect.New(reflect.TypeOf(tt.v))
				p.Elem().Set(reflect.ValueOf(tt.v))
				checkSame(t, c, p.Interface())
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	type withFunc struct{ F func() }
	type withChan struct{ C chan int }
	type cyc struct{ Next *cyc }
	loop := &cyc{}
	loop.Next = loop
	for name, v := range map[string]any{
		"NaN":              []float64{0, nan()},
		"func":             withFunc{},
		"chan":             withChan{},
		"marshaler error":  valMarsh{X: 13},
		"marshaler broken": valMarsh{X: 14},
		"bad number":       json.Number("1.2.3"),
		"bad year":         time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"cycle":            loop,
	} {
		t.Run(name, func(t *testing.T) {
			_, wantErr := json.Marshal(v)
			require.Error(t, wantErr)
			b, err := c.AppendMarshal([]byte("prefix"), v, All())
			require.Error(t, err)
			assert.Equal(t, "prefix", string(b)) // no partial output
			assert.True(t, strings.HasPrefix(err.Error(), "fieldmask: "), err.Error())
		})
	}
}

func nan() float64 {
	var z float64
	return z / z
}

type user struct {
	ID        int64            `json:"id"`
	Name      string           `json:"name"`
	Email     string           `json:"email,omitempty"`
	Active    bool             `json:"active"`
	Score     float64          `json:"score"`
	CreatedAt time.Time        `json:"created_at"`
	Profile   *profile         `json:"profile,omitempty"`
	Posts     []post           `json:"posts"`
	Labels    map[string]label `json:"labels,omitempty"`
	Seen      *time.Time       `json:"seen,omitempty"`
	Password  string           `json:"password" fieldmask:"hidden"`
	SSN       string           `json:"ssn" fieldmask:"optin=pii"`
	Activity  []string         `json:"recent_activity" fieldmask:"optin"`
}

type profile struct {
	Avatar string `json:"avatar"`
	Bio    string `json:"bio"`
	Secret string `json:"secret" fieldmask:"hidden"`
	Phone  string `json:"phone" fieldmask:"optin"`
}

type post struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	Draft bool   `json:"draft"`
}

type label struct {
	Color string `json:"color"`
	Note  string `json:"note"`
}

func sampleUser() *user {
	return &user{
		ID: 7, Name: "Ada", Active: false, Score: 0,
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Profile:   &profile{Avatar: "a.png", Bio: "hi", Secret: "s3", Phone: "555"},
		Posts:     []post{{Title: "t1", Body: "b1"}, {Title: "t2", Body: "b2", Draft: true}},
		Labels:    map[string]label{"x": {Color: "red", Note: "n"}},
		Password:  "hash", SSN: "123", Activity: []string{"login"},
	}
}

func TestMarshalMasked(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	u := sampleUser()
	tests := []struct{ mask, want string }{
		{"", `{}`},
		{"id", `{"id":7}`},
		{"name,id", `{"id":7,"name":"Ada"}`},           // struct order, not mask order
		{"active,score", `{"active":false,"score":0}`}, // real zero values stay
		{"email", `{}`},                                // omitempty still applies
		{"profile.avatar", `{"profile":{"avatar":"a.png"}}`},
		{"profile", `{"profile":{"avatar":"a.png","bio":"hi"}}`},
		{"profile{*,phone}", `{"profile":{"avatar":"a.png","bio":"hi","phone":"555"}}`},
		{"profile.phone", `{"profile":{"phone":"555"}}`},
		{"profile.secret", `{"profile":{}}`}, // hidden: unreachable even unvalidated
		{"posts.title", `{"posts":[{"title":"t1"},{"title":"t2"}]}`},
		{"labels.color", `{"labels":{"x":{"color":"red"}}}`},
		{"password,ssn", `{}`}, // hidden; ssn needs a permission an unvalidated mask cannot grant
		{"recent_activity", `{"recent_activity":["login"]}`},
		{"created_at{x}", `{"created_at":"2025-01-02T03:04:05Z"}`},
		{"*", `{"id":7,"name":"Ada","active":false,"score":0,"created_at":"2025-01-02T03:04:05Z","profile":{"avatar":"a.png","bio":"hi"},"posts":[{"title":"t1","body":"b1","draft":false},{"title":"t2","body":"b2","draft":true}],"labels":{"x":{"color":"red","note":"n"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.mask, func(t *testing.T) {
			got, err := c.Marshal(u, MustParse(tt.mask))
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
			assert.Equal(t, tt.want, string(got))
			// The same through a non-pointer value and through a slice.
			got, err = c.Marshal(*u, MustParse(tt.mask))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			got, err = c.Marshal([]*user{u, nil}, MustParse(tt.mask))
			require.NoError(t, err)
			assert.Equal(t, "["+tt.want+",null]", string(got))
		})
	}
}

func TestMarshalValidatedOptIn(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	u := sampleUser()
	pii := &ValidateOptions{Allow: func(p string) bool { return p == "pii" }}
	m, err := c.Validate(reflect.TypeFor[user](), MustParse("id,ssn"), pii)
	require.NoError(t, err)
	got, err := c.Marshal(u, m)
	require.NoError(t, err)
	assert.Equal(t, `{"id":7,"ssn":"123"}`, string(got))
	assert.True(t, m.Has("ssn"))

	// The same canonical mask, unvalidated, does not reach the field: the plan
	// cache keeps the two apart.
	got, err = c.Marshal(u, MustParse("id,ssn"))
	require.NoError(t, err)
	assert.Equal(t, `{"id":7}`, string(got))

	// "*" never includes opt-in fields, validated or not.
	m, err = c.Validate(reflect.TypeFor[user](), All(), pii)
	require.NoError(t, err)
	got, err = c.Marshal(u, m)
	require.NoError(t, err)
	assert.NotContains(t, string(got), "ssn")
	assert.NotContains(t, string(got), "recent_activity")
	assert.False(t, m.Has("ssn"))
	assert.False(t, m.Has("password"))
	assert.True(t, m.Has("profile.avatar"))
	assert.False(t, m.Has("profile.secret"))
	assert.False(t, m.Has("profile.phone"))
}

func TestEncoder(t *testing.T) {
	t.Parallel()
	c := MustNew(nil)
	var buf bytes.Buffer
	e := c.NewEncoder(&buf)
	require.NoError(t, e.Encode(sampleUser(), MustParse("id")))
	require.NoError(t, e.Encode(sampleUser(), MustParse("name")))
	require.Error(t, e.Encode(nan(), All()))
	assert.Equal(t, "{\"id\":7}\n{\"name\":\"Ada\"}\n", buf.String())
}

func TestAppendMarshalAllocs(t *testing.T) {
	c := MustNew(nil)
	u := sampleUser()
	u.Labels = nil // maps allocate (sorting keys), as in encoding/json
	u.Seen = &u.CreatedAt
	m := MustParse("id,name,created_at,seen,profile{avatar},posts.title")
	buf := make([]byte, 0, 1024)
	var err error
	buf, err = c.AppendMarshal(buf[:0], u, m)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = c.AppendMarshal(buf[:0], u, m)
	})
	assert.Zero(t, allocs)
	all := All()
	allocs = testing.AllocsPerRun(100, func() {
		buf, _ = c.AppendMarshal(buf[:0], u, all)
	})
	assert.Zero(t, allocs)
}

func TestPlanCacheBounded(t *testing.T) {
	t.Parallel()
	const size = 8
	c := MustNew(&Options{CacheSize: size})
	u := sampleUser()
	names := []string{"id", "name", "email", "active", "score", "created_at", "profile", "posts", "labels",
		"profile.avatar", "profile.bio", "posts.title", "posts.body", "posts.draft", "labels.color", "labels.note"}
	// Every subset is a distinct mask: a client flood of distinct masks.
	distinct := 0
	for bits := 1; bits < 1<<10; bits++ {
		var parts []string
		for i, n := range names[:10] {
			if bits&(1<<i) != 0 {
				parts = append(parts, n)
			}
		}
		m, err := c.Parse(strings.Join(parts, ","))
		require.NoError(t, err)
		if bits%2 == 0 {
			m, err = Validate[user](c, m, nil)
			require.NoError(t, err)
		}
		_, err = c.Marshal(u, m)
		require.NoError(t, err)
		distinct++
	}
	require.Greater(t, distinct, 100*size)
	assertCachesWithin(t, c, size)
	// Whole-value encoders are per type, not per mask.
	c.mu.Lock()
	assert.Less(t, len(c.whole), 40)
	c.mu.Unlock()
}

// assertCachesWithin fails unless each cache of c holds at most size entries
// once its pending maintenance has run.
func assertCachesWithin(t *testing.T, c *Codec, size int) {
	t.Helper()
	c.plans.CleanUp()
	c.parsed.CleanUp()
	c.validated.CleanUp()
	assert.LessOrEqual(t, c.plans.EstimatedSize(), size)
	assert.LessOrEqual(t, c.parsed.EstimatedSize(), size)
	assert.LessOrEqual(t, c.validated.EstimatedSize(), size)
}

// A concurrent flood of distinct client masks through a Codec with tiny caches:
// every output stays right while plans are evicted under the writers, and the
// caches end within their bound.
func TestPlanCacheBoundedConcurrent(t *testing.T) {
	t.Parallel()
	const size, workers = 4, 8
	c := MustNew(&Options{CacheSize: size})
	ref := MustNew(nil) // large caches: the reference output
	u := sampleUser()
	names := []string{"id", "name", "email", "active", "score", "created_at", "profile", "posts", "labels",
		"profile.avatar", "profile.bio", "posts.title", "posts.body"}
	done := make(chan int)
	for g := range workers {
		go func() {
			n := 0
			defer func() { done <- n }()
			for bits := 1 + g; bits < 1<<10; bits += workers {
				var parts []string
				for i, name := range names[:10] {
					if bits&(1<<i) != 0 {
						parts = append(parts, name)
					}
				}
				in := strings.Join(parts, ",")
				m, err := c.Parse(in)
				if err == nil && bits%2 == 0 {
					m, err = Validate[user](c, m, nil)
				}
				if err != nil {
					t.Errorf("%q: %v", in, err)
					return
				}
				got, err := c.Marshal(u, m)
				want, werr := ref.Marshal(u, MustParse(in))
				if err != nil || werr != nil || !bytes.Equal(got, want) {
					t.Errorf("%q: got %s (%v), want %s (%v)", in, got, err, want, werr)
					return
				}
				n++
			}
		}()
	}
	total := 0
	for range workers {
		total += <-done
	}
	require.Equal(t, 1<<10-1, total)
	assertCachesWithin(t, c, size)
}

func TestMarshalConcurrent(t *testing.T) {
	t.Parallel()
	c := MustNew(&Options{CacheSize: 8})
	u := sampleUser()
	masks := []string{"id", "name", "profile.avatar", "posts.title", "*", "id,name", "labels", "score,active", "created_at"}
	want := make([]string, len(masks))
	for i, m := range masks {
		b, err := c.Marshal(u, MustParse(m))
		require.NoError(t, err)
		want[i] = string(b)
	}
	done := make(chan struct{})
	for g := range 16 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 300 {
				k := (g + i) % len(masks)
				b, err := c.Marshal(u, MustParse(masks[k]))
				if err != nil || string(b) != want[k] {
					t.Errorf("mask %q: got %s, %v", masks[k], b, err)
					return
				}
			}
		}()
	}
	for range 16 {
		<-done
	}
}
