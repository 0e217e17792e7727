package fieldmask

import (
	"encoding/json"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Parse("id,name,profile{avatar,bio},posts.title")
	}
}

func BenchmarkAppendMarshal(b *testing.B) {
	c := MustNew(nil)
	u := sampleUser()
	for _, bc := range []struct{ name, mask string }{
		{"mask=3fields", "id,name,profile.avatar"},
		{"mask=all", "*"},
	} {
		m := MustParse(bc.mask)
		b.Run(bc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				buf, _ = c.AppendMarshal(buf[:0], u, m)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 0, 1024)
				for pb.Next() {
					buf, _ = c.AppendMarshal(buf[:0], u, m)
				}
			})
		})
	}
	b.Run("encoding-json/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(u)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	c := MustNew(nil)
	m := MustParse("id,name,profile{avatar,bio},posts.title")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Validate[user](c, m, nil)
	}
}
