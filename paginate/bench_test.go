package paginate

import (
	"net/url"
	"testing"
	"time"
)

func benchSetup(b *testing.B) (*Paginator, *Request, Key, string) {
	p := testPaginator(b, MustSort(Desc("created_at").Time(), Desc("id")), func(o *Options) {
		o.FilterParams = []string{"status"}
	})
	q := url.Values{"status": {"open"}}
	req, err := p.ParseValues(q, Binding{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	k := Key{time.Date(2026, 11, 27, 9, 30, 0, 123456000, time.UTC), int64(123456789)}
	c, err := req.Cursor(k, Forward)
	if err != nil {
		b.Fatal(err)
	}
	q.Set("cursor", c)
	return p, req, k, q.Encode()
}

// BenchmarkCursorEncode measures sealing a (timestamp, id) cursor.
func BenchmarkCursorEncode(b *testing.B) {
	_, req, k, _ := benchSetup(b)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := req.Cursor(k, Forward); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := req.Cursor(k, Forward); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkCursorDecode measures parsing a request with a cursor: query
// lookup, filter fingerprint, base64, AES-GCM open and value validation.
func BenchmarkCursorDecode(b *testing.B) {
	p, _, _, raw := benchSetup(b)
	q, err := url.ParseQuery(raw)
	if err != nil {
		b.Fatal(err)
	}
	bind := Binding{Tenant: "acme"}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.ParseValues(q, bind); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := p.ParseValues(q, bind); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("rejected", func(b *testing.B) {
		bad := url.Values{"cursor": {q.Get("cursor")[:40] + "A" + q.Get("cursor")[41:]}, "status": {"open"}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.ParseValues(bad, bind); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

// BenchmarkWhere measures writing the SQL fragment for a cursor request.
func BenchmarkWhere(b *testing.B) {
	p, _, _, raw := benchSetup(b)
	q, _ := url.ParseQuery(raw)
	req, err := p.ParseValues(q, Binding{Tenant: "acme"})
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range []Dialect{Postgres, MySQL} {
		b.Run(d.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req.Where(d, 1)
				req.OrderBy(d)
			}
		})
	}
}

// BenchmarkSlice measures in-memory pagination over 100k sorted items.
func BenchmarkSlice(b *testing.B) {
	p := testPaginator(b, MustSort(Asc("id")), func(o *Options) { o.MaxLimit = 100 })
	items := make([]int64, 100_000)
	for i := range items {
		items[i] = int64(i)
	}
	key := func(i int64) Key { return Key{i} }
	req, _ := p.Request(50, "", nil, Binding{})
	c, _ := req.Cursor(Key{int64(70_000)}, Forward)
	req, err := p.Request(50, c, nil, Binding{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Slice(items, req, key); err != nil {
			b.Fatal(err)
		}
	}
}
