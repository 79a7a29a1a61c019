package dvdv_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

// Figures for docs/notes/issue-4.md:
//   go test -run '^$' -bench . -benchmem ./dvdv/

// A cached lookup: what every delivery pays once the route is known.
func BenchmarkLookupCached(b *testing.B) {
	e := newEnv(b, envOptions{})
	if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri2611); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri2611); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// An uncached lookup over loopback HTTP with a held token: request,
// decoding, four certificate checks.
func BenchmarkLookupUncached(b *testing.B) {
	e := newEnv(b, envOptions{config: func(c *dvdv.Config) { c.Cache.Disabled = true }})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri2611); err != nil {
			b.Fatal(err)
		}
	}
}

func sampleServiceJSON(b *testing.B) ([]byte, *dvdv.Service) {
	e := newEnv(b, envOptions{})
	svc, err := e.dir.FindServiceDescription(ctx, dvdvtest.SampleABH, e.uri2611)
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(svc)
	if err != nil {
		b.Fatal(err)
	}
	return data, svc
}

// Building a route from a decoded service description (parsing and
// checking four certificates).
func BenchmarkRouteFromService(b *testing.B) {
	_, svc := sampleServiceJSON(b)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dvdv.RouteFromService(dvdvtest.SampleABH, "", svc, now); err != nil {
			b.Fatal(err)
		}
	}
}

// Decoding a findservicedescription answer (about 6.7 KB with four
// certificates).
func BenchmarkDecodeServiceJSON(b *testing.B) {
	data, _ := sampleServiceJSON(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var s dvdv.Service
		if err := json.Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
	}
}
