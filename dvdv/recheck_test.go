package dvdv_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

// RecheckAt is the first moment a rebuilt route could differ: it is what
// lets the caches skip certificate parsing and chain verification.
func TestRouteRecheckAt(t *testing.T) {
	p := testPKI(t)
	now := time.Now().Truncate(time.Second)
	org := dvdv.MustParseOrgKey("abh:000100")
	inter := p.MustIssue("intermediary", now.Add(-time.Hour), now.Add(48*time.Hour))
	addr := p.MustIssue("addressee", now.Add(-time.Hour), now.Add(24*time.Hour))

	r, err := dvdv.RouteFromService(org, "", service(inter, addr), now)
	if err != nil {
		t.Fatal(err)
	}
	if !r.RecheckAt().Equal(addr.NotAfter) || !r.RecheckAt().Equal(r.ValidUntil) {
		t.Errorf("RecheckAt %v, ValidUntil %v; want both the addressee certificate's end %v", r.RecheckAt(), r.ValidUntil, addr.NotAfter)
	}

	t.Run("the service ends first", func(t *testing.T) {
		s := service(inter, addr)
		s.ValidTo = dvdv.At(now.Add(time.Hour))
		r, err := dvdv.RouteFromService(org, "", s, now)
		if err != nil || !r.RecheckAt().Equal(now.Add(time.Hour)) {
			t.Fatalf("RecheckAt %v (%v), want the service's end", r.RecheckAt(), err)
		}
	})
	t.Run("a rollover certificate becomes valid", func(t *testing.T) {
		next := p.MustIssue("addressee next", now.Add(2*time.Hour), now.Add(72*time.Hour))
		s := service(inter, addr, certElement(dvdv.ElementCipherCertificate, next))
		r, err := dvdv.RouteFromService(org, "", s, now)
		if err != nil || !r.AddresseeCipherCert.Equal(addr) || !r.RecheckAt().Equal(now.Add(2*time.Hour)) {
			t.Fatalf("route %v, RecheckAt %v; want the current certificate until the next one's start", err, r.RecheckAt())
		}
		later, err := dvdv.RouteFromService(org, "", s, r.RecheckAt())
		if err != nil || !later.AddresseeCipherCert.Equal(next) {
			t.Fatalf("at RecheckAt the route still has the old certificate (%v)", err)
		}
	})
	t.Run("a skipped signature certificate becomes valid", func(t *testing.T) {
		sig := p.MustIssue("addressee signature", now.Add(30*time.Minute), now.Add(72*time.Hour))
		s := service(inter, addr, certElement(dvdv.ElementSignatureCertificate, sig))
		r, err := dvdv.RouteFromService(org, "", s, now)
		if err != nil || r.AddresseeSignatureCert != nil || len(r.Warnings) != 1 || !r.RecheckAt().Equal(now.Add(30*time.Minute)) {
			t.Fatalf("route %+v (%v)", r, err)
		}
	})
	t.Run("revoked and expired candidates change nothing", func(t *testing.T) {
		gone := p.MustIssue("addressee expired", now.Add(-48*time.Hour), now.Add(-time.Hour))
		soonRevoked := p.MustIssue("addressee revoked", now.Add(-time.Hour), now.Add(time.Hour))
		s := service(inter, addr, certElement(dvdv.ElementCipherCertificate, gone),
			certElement(dvdv.ElementCipherCertificate, soonRevoked, func(c *dvdv.Certificate) { c.RevocationReason = "KEY_COMPROMISE" }))
		r, err := dvdv.RouteFromService(org, "", s, now)
		if err != nil || !r.AddresseeCipherCert.Equal(addr) {
			t.Fatal(err)
		}
		// The revoked certificate's end (in an hour) is a candidate's
		// boundary too; being early is safe, what matters is not being late.
		if r.RecheckAt().After(addr.NotAfter) || r.RecheckAt().Before(now) {
			t.Errorf("RecheckAt %v", r.RecheckAt())
		}
	})
	t.Run("the chain ends before the certificate", func(t *testing.T) {
		sub, err := p.SubCA("short-lived sub CA", now.Add(-time.Hour), now.Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		leaf := sub.MustIssue("addressee under the sub CA", now.Add(-time.Hour), now.Add(24*time.Hour))
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(p.CA)
		inters.AddCert(sub.CA)
		opts := dvdv.RouteOptions{Roots: roots, Intermediates: inters}
		r, err := dvdv.RouteFromServiceOptions(org, "", service(inter, leaf), now, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !r.RecheckAt().Equal(sub.CA.NotAfter) {
			t.Errorf("RecheckAt %v, want the sub CA's end %v", r.RecheckAt(), sub.CA.NotAfter)
		}
		if _, err := dvdv.RouteFromServiceOptions(org, "", service(inter, leaf), sub.CA.NotAfter.Add(time.Second), opts); !errors.Is(err, dvdv.ErrCertificateInvalid) {
			t.Errorf("after the chain ended: %v", err)
		}
	})
}

// The REST client's route cache hands out routes without checking their
// certificates again; it must drop a route when the chain that anchored one
// of its certificates ends, not only when the certificate itself does.
func TestCacheNeverOutlivesTheChain(t *testing.T) {
	p := testPKI(t)
	sub, err := p.SubCA("short-lived sub CA", time.Now().Add(-time.Hour), time.Now().Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(p.CA)
	inters.AddCert(sub.CA)
	e := newEnv(t, envOptions{file: func(s *dvdvtest.Sample) {
		leaf := sub.MustIssue("addressee under the sub CA", time.Time{}, time.Time{})
		s.File.Organizations[0].Services[0].CipherCertificate = dvdvfile.InlineCert(leaf)
	}, config: func(c *dvdv.Config) {
		c.Cache.ServiceTTL = time.Hour
		c.Roots, c.Intermediates = roots, inters
	}})
	r1, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(4 * time.Minute)
	if r2, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211); err != nil || r2 != r1 {
		t.Fatalf("within the chain's validity the cached route is not reused: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	_, err = e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if !errors.Is(err, dvdv.ErrNoUsableCertificate) || !errors.Is(err, dvdv.ErrCertificateInvalid) {
		t.Fatalf("after the sub CA expired: err = %v, want a certificate that no longer chains", err)
	}
}
