package paginate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
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

// jsonCursor is the common unsealed encoding (base64 of a JSON array of the
// boundary values, as several ORM paginators do), as a baseline for the cost
// of sealing.
type jsonCursor struct{}

func (jsonCursor) encode(k Key) (string, error) {
	b, err := json.Marshal([]any(k))
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

func (jsonCursor) decode(s string) (time.Time, int64, error) {
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, 0, err
	}
	var v struct {
		At time.Time
		ID int64
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 2 {
		return time.Time{}, 0, errors.New("bad cursor")
	}
	if err := json.Unmarshal(raw[0], &v.At); err != nil {
		return time.Time{}, 0, err
	}
	if err := json.Unmarshal(raw[1], &v.ID); err != nil {
		return time.Time{}, 0, err
	}
	return v.At, v.ID, nil
}

// BenchmarkCursorEncode measures sealing a (timestamp, id) cursor, against
// the unsealed JSON+base64 baseline. Compare with benchstat -col /impl.
func BenchmarkCursorEncode(b *testing.B) {
	_, req, k, _ := benchSetup(b)
	impls := []struct {
		name string
		f    func() (string, error)
	}{
		{"stout", func() (string, error) { return req.Cursor(k, Forward) }},
		{"json-base64", func() (string, error) { return jsonCursor{}.encode(k) }},
	}
	for _, impl := range impls {
		b.Run("mode=serial/impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := impl.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("mode=parallel/impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := impl.f(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCursorDecode measures opening a cursor into typed boundary
// values (base64, AES-GCM open, binding and expiry checks, validation),
// against the unsealed JSON+base64 baseline, plus a full ParseValues of a
// query string and the rejection of a tampered cursor.
func BenchmarkCursorDecode(b *testing.B) {
	p, req, k, raw := benchSetup(b)
	q, err := url.ParseQuery(raw)
	if err != nil {
		b.Fatal(err)
	}
	bind := Binding{Tenant: "acme"}
	filter := url.Values{"status": {"open"}}
	cursor := q.Get("cursor")
	jc, err := jsonCursor{}.encode(k)
	if err != nil {
		b.Fatal(err)
	}
	_ = req
	impls := []struct {
		name string
		f    func() error
	}{
		{"stout", func() error { _, err := p.Request(20, cursor, filter, bind); return err }},
		{"json-base64", func() error { _, _, err := jsonCursor{}.decode(jc); return err }},
	}
	for _, impl := range impls {
		b.Run("mode=serial/impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := impl.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("mode=parallel/impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := impl.f(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	b.Run("mode=parse-query/impl=stout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.ParseValues(q, bind); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mode=rejected/impl=stout", func(b *testing.B) {
		repl := "A"
		if cursor[40] == 'A' {
			repl = "B"
		}
		bad := cursor[:40] + repl + cursor[41:]
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Request(20, bad, filter, bind); err == nil {
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
