package dvdvfile_test

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

func newClock() *dvdvtest.Clock { return dvdvtest.NewClock() }

func testPKI(t testing.TB) *dvdvtest.PKI {
	t.Helper()
	p, err := dvdvtest.SharedPKI()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Repeated lookups hand out the route resolved first, equal to what a
// directory without reuse builds at the same moment.
func TestLookupReusesTheRoute(t *testing.T) {
	s := sample(t)
	c := newClock()
	d, err := dvdvfile.New(s.File, dvdvfile.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := dvdvfile.New(s.File, dvdvfile.Options{Now: c.Now, RouteTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	r2, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r2 != r1 {
		t.Fatalf("second lookup built a new route (%v)", err)
	}
	c.Advance(-time.Minute)
	want, err := fresh.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || !reflect.DeepEqual(want, r1) {
		t.Fatalf("reused route differs from a freshly built one:\n%+v\n%+v", r1, want)
	}
	if again, _ := fresh.Lookup(ctx, dvdvtest.SampleABH, uri2611); again == want {
		t.Error("RouteTTL < 0 still reuses routes")
	}
	// Another service of the same office is its own entry.
	uri1211, _ := dvdv.OZGServiceURI("1.21.1")
	if r, err := d.Lookup(ctx, dvdvtest.SampleABH, uri1211); err != nil || r == r1 || r.ServiceURI != uri1211 {
		t.Fatalf("1.21.1: %v %v", r, err)
	}
}

// A certificate that expires between two lookups is refused on the second.
func TestReusedRouteEndsWithItsCertificate(t *testing.T) {
	s := sample(t)
	short := testPKI(t).MustIssue("short-lived addressee cipher", time.Now().Add(-time.Hour), time.Now().Add(2*time.Minute))
	s.File.Organizations[0].Services[1].CipherCertificate = dvdvfile.InlineCert(short)
	c := newClock()
	d, err := dvdvfile.New(s.File, dvdvfile.Options{Now: c.Now, RouteTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || !r1.ValidUntil.Equal(short.NotAfter) {
		t.Fatalf("route %v, %v", r1, err)
	}
	c.Advance(time.Minute)
	if r, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611); err != nil || r != r1 {
		t.Fatalf("a minute later: %v", err)
	}
	c.Advance(2 * time.Minute)
	_, err = d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if !errors.Is(err, dvdv.ErrNoUsableCertificate) || !errors.Is(err, dvdv.ErrCertificateExpired) {
		t.Fatalf("after the addressee certificate expired: err = %v", err)
	}
}

// A signature certificate not yet valid is left out; once it is valid the
// next lookup has it.
func TestReusedRoutePicksUpACertificateBecomingValid(t *testing.T) {
	s := sample(t)
	later := testPKI(t).MustIssue("addressee signature from tomorrow", time.Now().Add(10*time.Minute), time.Now().Add(48*time.Hour))
	s.File.Organizations[0].Services[1].SignatureCertificate = dvdvfile.InlineCert(later)
	c := newClock()
	d, err := dvdvfile.New(s.File, dvdvfile.Options{Now: c.Now, RouteTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r.AddresseeSignatureCert != nil || len(r.Warnings) != 1 {
		t.Fatalf("before: %+v, %v", r, err)
	}
	c.Advance(11 * time.Minute)
	r, err = d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r.AddresseeSignatureCert == nil || !r.AddresseeSignatureCert.Equal(later) || len(r.Warnings) != 0 {
		t.Fatalf("after: %+v, %v", r, err)
	}
}

// With trust anchors, a route ends when its chain does.
func TestReusedRouteEndsWithItsChain(t *testing.T) {
	p := testPKI(t)
	sub, err := p.SubCA("short-lived sub CA", time.Now().Add(-time.Hour), time.Now().Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s := sample(t)
	s.File.Organizations[0].Services[1].CipherCertificate = dvdvfile.InlineCert(sub.MustIssue("addressee under the sub CA", time.Time{}, time.Time{}))
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(p.CA)
	inters.AddCert(sub.CA)
	c := newClock()
	d, err := dvdvfile.New(s.File, dvdvfile.Options{Now: c.Now, RouteTTL: time.Hour, Route: dvdv.RouteOptions{Roots: roots, Intermediates: inters}})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(4 * time.Minute)
	if r, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611); err != nil || r != r1 {
		t.Fatalf("within the chain's validity: %v", err)
	}
	c.Advance(2 * time.Minute)
	if _, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611); !errors.Is(err, dvdv.ErrCertificateInvalid) {
		t.Fatalf("after the sub CA expired: err = %v", err)
	}
}

// RouteTTL bounds reuse; a clock that goes back builds again.
func TestReusedRouteTTLAndClockSteps(t *testing.T) {
	s := sample(t)
	c := newClock()
	d, err := dvdvfile.New(s.File, dvdvfile.Options{Now: c.Now, RouteTTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	c.Advance(5*time.Minute - time.Nanosecond)
	if r, _ := d.Lookup(ctx, dvdvtest.SampleABH, uri2611); r != r1 {
		t.Fatal("rebuilt within the TTL")
	}
	c.Advance(time.Nanosecond)
	r2, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r2 == r1 || !reflect.DeepEqual(*r2, *r1) {
		t.Fatalf("at the TTL: rebuilt=%v equal=%v %v", r2 != r1, reflect.DeepEqual(r2, r1), err)
	}
	c.Advance(-time.Second)
	if r3, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611); err != nil || r3 == r2 {
		t.Fatalf("a clock stepped back reused the route built later (%v)", err)
	}
}

// A reload (explicit or by watching) drops every kept route.
func TestReloadDropsReusedRoutes(t *testing.T) {
	s := sample(t)
	path := filepath.Join(t.TempDir(), "dvdv.yaml")
	if err := s.File.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	d, err := dvdvfile.Load(path, dvdvfile.Options{RouteTTL: time.Hour, WatchInterval: time.Nanosecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r1.IntermediaryURL != "http://127.0.0.1:8090/osci" {
		t.Fatalf("%v %v", r1, err)
	}
	// Revoke the addressee certificate and move the intermediary; the new
	// file is longer, so watching sees the change even within one mtime tick.
	s.File.Intermediaries[0].URL = "http://127.0.0.1:8091/osci-moved"
	rev := time.Now().Add(-time.Minute)
	s.File.Organizations[0].Services[1].CipherCertificate.RevocationDate = &rev
	s.File.Organizations[0].Services[1].CipherCertificate.RevocationReason = "KEY_COMPROMISE"
	if err := s.File.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	_, err = d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if !errors.Is(err, dvdv.ErrCertificateRevoked) {
		t.Fatalf("after the file revoked the certificate: err = %v", err)
	}
	// Unrevoked again by hand and reloaded explicitly.
	s.File.Organizations[0].Services[1].CipherCertificate.RevocationDate = nil
	s.File.Organizations[0].Services[1].CipherCertificate.RevocationReason = ""
	if err := s.File.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	r2, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r2.IntermediaryURL != "http://127.0.0.1:8091/osci-moved" {
		t.Fatalf("after reload: %v %v", r2, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// Lookups, reloads and a moving clock at once (run with -race): every
// answer is a complete route or a clear refusal, never a torn one.
func TestReusedRoutesConcurrently(t *testing.T) {
	s := sample(t)
	short := testPKI(t).MustIssue("short-lived addressee cipher", time.Now().Add(-time.Hour), time.Now().Add(30*time.Second))
	s.File.Organizations[0].Services[1].CipherCertificate = dvdvfile.InlineCert(short)
	path := filepath.Join(t.TempDir(), "dvdv.yaml")
	if err := s.File.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	c := newClock()
	d, err := dvdvfile.Load(path, dvdvfile.Options{Now: c.Now, RouteTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	seen := make([]struct{ ok, refused int }, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				before := c.Now()
				r, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
				after := c.Now()
				switch {
				case err == nil:
					if r.AddresseeCipherCert == nil || r.IntermediaryCipherCert == nil || !r.ValidUntil.Equal(short.NotAfter) {
						t.Errorf("incomplete route %+v", r)
						return
					}
					if before.After(short.NotAfter) {
						t.Errorf("route handed out at %v with a certificate that ended %v", before, short.NotAfter)
						return
					}
					seen[g].ok++
				case errors.Is(err, dvdv.ErrCertificateExpired):
					if !after.After(short.NotAfter) {
						t.Errorf("refused at %v though the certificate lasts until %v: %v", after, short.NotAfter, err)
						return
					}
					seen[g].refused++
				default:
					t.Errorf("lookup: %v", err)
					return
				}
			}
		}()
	}
	for i := 0; i < 60; i++ {
		c.Advance(time.Second)
		if i%10 == 0 {
			if err := d.Reload(); err != nil {
				t.Error(err)
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
	ok, refused := 0, 0
	for _, s := range seen {
		ok, refused = ok+s.ok, refused+s.refused
	}
	if ok == 0 || refused == 0 {
		t.Errorf("%d routes, %d refusals: the lookups did not straddle the certificate's end", ok, refused)
	}
	if _, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611); !errors.Is(err, dvdv.ErrCertificateExpired) {
		t.Errorf("at the end: %v", err)
	}
}
