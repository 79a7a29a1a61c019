package dvdvroute_test

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
	"github.com/xagw/xagw/gateway/dvdvroute"
)

// Figures for docs/notes/issue-4.md ("Route resolution cost"):
//   go test -run '^$' -bench Route -benchmem ./gateway/dvdvroute/

// BenchmarkRouteFileDirectory is what the gateway pays per message to
// resolve the route of an office from the file directory (the embedded
// default and the end-to-end benchmark): the sample directory, four
// certificates, with and without trust anchors configured.
func BenchmarkRouteFileDirectory(b *testing.B) {
	p, err := dvdvtest.SharedPKI()
	if err != nil {
		b.Fatal(err)
	}
	s, err := p.NewSample("http://127.0.0.1:9/osci")
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.CA)
	for _, c := range []struct {
		name string
		opts dvdv.RouteOptions
	}{{"plain", dvdv.RouteOptions{}}, {"roots", dvdv.RouteOptions{Roots: roots}}} {
		b.Run(c.name, func(b *testing.B) {
			dir, err := dvdvfile.New(s.File, dvdvfile.Options{Route: c.opts})
			if err != nil {
				b.Fatal(err)
			}
			r := &dvdvroute.Router{Directory: dir}
			ctx := context.Background()
			if _, err := r.Route(ctx, dvdvtest.SampleABH.ID, "26.11"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Route(ctx, dvdvtest.SampleABH.ID, "26.11"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
