// Package fieldmaskbench compares the fieldmask package with encoding/json and
// with github.com/mennanov/fieldmask-utils (StructToMap, then encoding/json).
package fieldmaskbench

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	fmutils "github.com/mennanov/fieldmask-utils"
	"github.com/stout-go/stout/fieldmask"
)

// Account is a realistic API resource with 20 fields.
type Account struct {
	ID          int64      `json:"id"`
	UUID        string     `json:"uuid"`
	Username    string     `json:"username"`
	Email       string     `json:"email"`
	DisplayName string     `json:"display_name"`
	AvatarURL   string     `json:"avatar_url"`
	Bio         string     `json:"bio"`
	Locale      string     `json:"locale"`
	Timezone    string     `json:"timezone"`
	Verified    bool       `json:"verified"`
	Admin       bool       `json:"admin"`
	Followers   int        `json:"followers"`
	Following   int        `json:"following"`
	Karma       float64    `json:"karma"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLogin   *time.Time `json:"last_login,omitempty"`
	Roles       []string   `json:"roles"`
	Address     Address    `json:"address"`
	Links       []Link     `json:"links"`
}

// Address is nested in Account.
type Address struct {
	Street  string `json:"street"`
	City    string `json:"city"`
	Country string `json:"country"`
	Postal  string `json:"postal"`
}

// Link is an element of Account.Links.
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

func account() *Account {
	last := time.Date(2026, 11, 26, 18, 3, 11, 512000000, time.UTC)
	return &Account{
		ID: 1234567, UUID: "5b0c7a4e-8f5e-4f0e-9b1a-2f7e0c9d4a11", Username: "ada",
		Email: "ada@example.com", DisplayName: "Ada Lovelace", AvatarURL: "https://cdn.example.com/u/1234567/avatar.png",
		Bio:    "Analyst & metaphysician. <Notes> on the Analytical Engine.",
		Locale: "en-GB", Timezone: "Europe/London", Verified: true, Followers: 18230, Following: 97,
		Karma: 4521.75, CreatedAt: time.Date(2019, 3, 1, 9, 30, 0, 0, time.UTC), UpdatedAt: last, LastLogin: &last,
		Roles:   []string{"member", "author"},
		Address: Address{Street: "12 St James's Square", City: "London", Country: "GB", Postal: "SW1Y 4JH"},
		Links:   []Link{{Rel: "self", Href: "/accounts/1234567"}, {Rel: "posts", Href: "/accounts/1234567/posts"}},
	}
}

const mask3 = "id,username,avatar_url"

// loop runs f b.N times and reports, besides wall time, the CPU time of the
// process per operation (cpu-ns/op, GC included): on a shared machine wall time
// also counts the time other jobs hold the CPU, CPU time does not.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		f()
	}
	if start >= 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// loopParallel is loop for b.RunParallel; f gets a per-goroutine setup.
func loopParallel(b *testing.B, setup func() func()) {
	b.ReportAllocs()
	start := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		f := setup()
		for pb.Next() {
			f()
		}
	})
	if start >= 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

func TestSameOutput(t *testing.T) {
	c := fieldmask.MustNew(nil)
	a := account()
	want, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Marshal(a, fieldmask.All())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("full mask differs from encoding/json:\n%s\n%s", got, want)
	}
	got, err = c.Marshal(a, fieldmask.MustParse(mask3))
	if err != nil {
		t.Fatal(err)
	}
	m, err := fmutils.MaskFromPaths(strings.Split(mask3, ","), func(s string) string { return s })
	if err != nil {
		t.Fatal(err)
	}
	dst := map[string]any{}
	if err := fmutils.StructToMap(m, a, dst, fmutils.WithSrcTag("json"), fmutils.WithTag("json")); err != nil {
		t.Fatal(err)
	}
	other, err := json.Marshal(dst)
	if err != nil {
		t.Fatal(err)
	}
	// Same fields; encoding/json writes map keys sorted, fieldmask in struct order.
	var x, y map[string]any
	if json.Unmarshal(got, &x) != nil || json.Unmarshal(other, &y) != nil || !reflect.DeepEqual(x, y) {
		t.Fatalf("masked outputs differ:\n%s\n%s", got, other)
	}
	if len(x) != 3 {
		t.Fatalf("masked output has %d fields, want 3 of the 20: %s", len(x), got)
	}
}

// BenchmarkMasked encodes 3 of the 20 fields; impl=encoding-json encodes the whole
// struct (what a server without masks does).
func BenchmarkMasked(b *testing.B) {
	a := account()
	c := fieldmask.MustNew(nil)
	m := fieldmask.MustParse(mask3)
	fm, err := fmutils.MaskFromPaths(strings.Split(mask3, ","), func(s string) string { return s })
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=stout", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		loop(b, func() {
			buf, _ = c.AppendMarshal(buf[:0], a, m)
		})
	})
	b.Run("impl=stout-marshal", func(b *testing.B) {
		loop(b, func() {
			_, _ = c.Marshal(a, m)
		})
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		loop(b, func() {
			_, _ = json.Marshal(a)
		})
	})
	b.Run("impl=fieldmask-utils", func(b *testing.B) {
		loop(b, func() {
			dst := make(map[string]any, 3)
			_ = fmutils.StructToMap(fm, a, dst, fmutils.WithSrcTag("json"), fmutils.WithTag("json"))
			_, _ = json.Marshal(dst)
		})
	})
}

// BenchmarkMaskedParallel is BenchmarkMasked on all cores.
func BenchmarkMaskedParallel(b *testing.B) {
	a := account()
	c := fieldmask.MustNew(nil)
	m := fieldmask.MustParse(mask3)
	fm, err := fmutils.MaskFromPaths(strings.Split(mask3, ","), func(s string) string { return s })
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=stout", func(b *testing.B) {
		loopParallel(b, func() func() {
			buf := make([]byte, 0, 4096)
			return func() {
				buf, _ = c.AppendMarshal(buf[:0], a, m)
			}
		})
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		loopParallel(b, func() func() {
			return func() {
				_, _ = json.Marshal(a)
			}
		})
	})
	b.Run("impl=fieldmask-utils", func(b *testing.B) {
		loopParallel(b, func() func() {
			return func() {
				dst := make(map[string]any, 3)
				_ = fmutils.StructToMap(fm, a, dst, fmutils.WithSrcTag("json"), fmutils.WithTag("json"))
				_, _ = json.Marshal(dst)
			}
		})
	})
}

// BenchmarkFull encodes the whole struct through the mask "*".
func BenchmarkFull(b *testing.B) {
	a := account()
	c := fieldmask.MustNew(nil)
	all := fieldmask.All()
	b.Run("impl=stout", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		loop(b, func() {
			buf, _ = c.AppendMarshal(buf[:0], a, all)
		})
	})
	b.Run("impl=stout-marshal", func(b *testing.B) {
		loop(b, func() {
			_, _ = c.Marshal(a, all)
		})
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		loop(b, func() {
			_, _ = json.Marshal(a)
		})
	})
}

// BenchmarkParse parses a client mask. impl=stout parses from scratch; the
// -cached variants go through a Codec, which keeps masks clients send again
// (impl=stout-cached-validated also checks the mask against Account);
// impl=fieldmask-utils builds its mask from the split paths.
func BenchmarkParse(b *testing.B) {
	const in = "id,username,avatar_url,address{city,country},links.href"
	c := fieldmask.MustNew(nil)
	b.Run("impl=stout", func(b *testing.B) {
		loop(b, func() {
			_, _ = fieldmask.Parse(in)
		})
	})
	b.Run("impl=stout-cached", func(b *testing.B) {
		loop(b, func() {
			_, _ = c.Parse(in)
		})
	})
	b.Run("impl=stout-cached-validated", func(b *testing.B) {
		loop(b, func() {
			m, _ := c.Parse(in)
			_, _ = fieldmask.Validate[Account](c, m, nil)
		})
	})
	paths := "id,username,avatar_url,address.city,address.country,links.href"
	b.Run("impl=fieldmask-utils", func(b *testing.B) {
		loop(b, func() {
			_, _ = fmutils.MaskFromPaths(strings.Split(paths, ","), func(s string) string { return s })
		})
	})
}

// BenchmarkRequest is the whole per-request cost of a masked response: read the
// mask from the query, check it, encode. impl=encoding-json encodes the whole
// struct and ignores the query; impl=fieldmask-utils splits the query into paths,
// builds its mask, copies into a map and encodes that.
func BenchmarkRequest(b *testing.B) {
	a := account()
	c := fieldmask.MustNew(nil)
	r := httptest.NewRequest(http.MethodGet, "/accounts/1234567?fields="+mask3, nil)
	opts := &fieldmask.RequestOptions{Codec: c, Type: reflect.TypeFor[Account]()}
	b.Run("impl=stout", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		loop(b, func() {
			m, err := fieldmask.FromRequest(r, opts)
			if err != nil {
				b.Fatal(err)
			}
			buf, _ = c.AppendMarshal(buf[:0], a, m)
		})
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		loop(b, func() {
			_ = r.URL.Query()
			_, _ = json.Marshal(a)
		})
	})
	b.Run("impl=fieldmask-utils", func(b *testing.B) {
		loop(b, func() {
			fm, err := fmutils.MaskFromPaths(strings.Split(r.URL.Query().Get("fields"), ","), func(s string) string { return s })
			if err != nil {
				b.Fatal(err)
			}
			dst := make(map[string]any, 3)
			_ = fmutils.StructToMap(fm, a, dst, fmutils.WithSrcTag("json"), fmutils.WithTag("json"))
			_, _ = json.Marshal(dst)
		})
	})
}
