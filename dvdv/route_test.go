package dvdv_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

// service builds a service description the way a DVDV server might lay it
// out: intermediary and addressee elements, optionally separate certificate
// elements.
func service(inter, addrCipher *x509.Certificate, extra ...dvdv.ServiceElement) *dvdv.Service {
	rec := func(c *x509.Certificate) *dvdv.Certificate {
		if c == nil {
			return nil
		}
		r := dvdv.CertificateFromX509(c)
		return &r
	}
	s := &dvdv.Service{
		ServiceBase: dvdv.ServiceBase{ID: 1, ServiceSpecificationURI: "urn:test:service:1", ServiceDescriptionName: "test"},
		ServiceElements: []dvdv.ServiceElement{
			{Type: dvdv.ElementIntermediary, URI: "https://im.example/osci", CipherCertificate: rec(inter)},
			{Type: dvdv.ElementAddressee, URI: "urn:addressee", CipherCertificate: rec(addrCipher)},
		},
	}
	s.ServiceElements = append(s.ServiceElements, extra...)
	return s
}

func certElement(typ dvdv.ElementType, c *x509.Certificate, mutate ...func(*dvdv.Certificate)) dvdv.ServiceElement {
	r := dvdv.CertificateFromX509(c)
	for _, m := range mutate {
		m(&r)
	}
	if typ == dvdv.ElementSignatureCertificate {
		return dvdv.ServiceElement{Type: typ, SignatureCertificate: &r}
	}
	return dvdv.ServiceElement{Type: typ, CipherCertificate: &r}
}

func TestRouteFromServiceLayouts(t *testing.T) {
	p := testPKI(t)
	now := time.Now()
	org := dvdv.MustParseOrgKey("abh:000100")
	inter := p.MustIssue("intermediary", time.Time{}, time.Time{})
	old := p.MustIssue("addressee old", now.Add(-48*time.Hour), now.Add(24*time.Hour))
	fresh := p.MustIssue("addressee new", now.Add(-time.Hour), now.Add(48*time.Hour))
	sig := p.MustIssue("addressee signature", time.Time{}, time.Time{})
	revoked := func(c *dvdv.Certificate) { c.RevocationReason = "SUPERSEDED" }

	t.Run("separate certificate elements", func(t *testing.T) {
		s := service(inter, nil, certElement(dvdv.ElementCipherCertificate, old), certElement(dvdv.ElementSignatureCertificate, sig))
		r, err := dvdv.RouteFromService(org, "urn:test:service:1", s, now)
		if err != nil {
			t.Fatal(err)
		}
		if !r.AddresseeCipherCert.Equal(old) || !r.AddresseeSignatureCert.Equal(sig) || r.AddresseeURI != "urn:addressee" {
			t.Errorf("route %+v", r)
		}
	})
	t.Run("key rollover picks the newest usable", func(t *testing.T) {
		s := service(inter, old, certElement(dvdv.ElementCipherCertificate, fresh))
		r, err := dvdv.RouteFromService(org, "urn:test:service:1", s, now)
		if err != nil || !r.AddresseeCipherCert.Equal(fresh) {
			t.Fatalf("got %v, %v; want the newer certificate", r, err)
		}
		s = service(inter, old, certElement(dvdv.ElementCipherCertificate, fresh, revoked))
		r, err = dvdv.RouteFromService(org, "urn:test:service:1", s, now)
		if err != nil || !r.AddresseeCipherCert.Equal(old) {
			t.Fatalf("got %v, %v; want the older one when the newer is revoked", r, err)
		}
		if !r.ValidUntil.Equal(old.NotAfter) {
			t.Errorf("window ends %v, want the chosen certificate's end %v", r.ValidUntil, old.NotAfter)
		}
	})
	t.Run("directory validity narrower than X.509", func(t *testing.T) {
		end := now.Add(-time.Minute)
		s := service(inter, nil, certElement(dvdv.ElementCipherCertificate, fresh, func(c *dvdv.Certificate) { c.ValidTo = dvdv.At(end) }))
		_, err := dvdv.RouteFromService(org, "", s, now)
		if !errors.Is(err, dvdv.ErrCertificateExpired) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("fingerprint mismatch", func(t *testing.T) {
		s := service(inter, nil, certElement(dvdv.ElementCipherCertificate, fresh, func(c *dvdv.Certificate) { c.Fingerprint = dvdv.Fingerprint(old) }))
		_, err := dvdv.RouteFromService(org, "", s, now)
		if !errors.Is(err, dvdv.ErrCertificateInvalid) || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("garbage certificate content", func(t *testing.T) {
		s := service(inter, nil, certElement(dvdv.ElementCipherCertificate, fresh, func(c *dvdv.Certificate) { c.Content = "bm90IGEgY2VydA==" }))
		_, err := dvdv.RouteFromService(org, "", s, now)
		if !errors.Is(err, dvdv.ErrCertificateInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	for name, tc := range map[string]struct {
		svc  *dvdv.Service
		kind error
		text string
	}{
		"no intermediary": {&dvdv.Service{ServiceElements: []dvdv.ServiceElement{certElement(dvdv.ElementCipherCertificate, fresh)}},
			dvdv.ErrIncompleteService, "no OSCI intermediary"},
		"no addressee certificate":         {service(inter, nil), dvdv.ErrIncompleteService, "no cipher certificate for the addressee"},
		"intermediary without certificate": {service(nil, fresh), dvdv.ErrIncompleteService, "intermediary has no cipher certificate"},
		"relative intermediary URL": {func() *dvdv.Service {
			s := service(inter, fresh)
			s.ServiceElements[0].URI = "/osci"
			return s
		}(), dvdv.ErrIncompleteService, "not an absolute http(s) URL"},
		"service not yet valid": {func() *dvdv.Service {
			s := service(inter, fresh)
			s.ValidFrom = dvdv.At(now.Add(time.Hour))
			return s
		}(), dvdv.ErrNoService, "becomes valid only"},
		"another service answered": {service(inter, fresh), dvdv.ErrMalformedResponse, "answered with service"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := dvdv.RouteFromService(org, "urn:test:other", tc.svc, now)
			if name != "another service answered" {
				_, err = dvdv.RouteFromService(org, "", tc.svc, now)
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.kind, tc.text)
			}
		})
	}
}

func TestRouteJSON(t *testing.T) {
	p := testPKI(t)
	inter := p.MustIssue("intermediary", time.Time{}, time.Time{})
	addr := p.MustIssue("addressee", time.Time{}, time.Time{})
	r, err := dvdv.RouteFromService(dvdv.MustParseOrgKey("abh:000100"), "urn:test:service:1", service(inter, addr), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	if got["organization"] != "abh:000100" || got["intermediaryUrl"] != "https://im.example/osci" {
		t.Errorf("json %s", b)
	}
	ac, _ := got["addresseeCipherCertificate"].(map[string]any)
	if ac["sha1Fingerprint"] != dvdv.Fingerprint(addr) || !strings.HasPrefix(ac["pem"].(string), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("certificate json %v", ac)
	}
	if _, ok := got["addresseeSignatureCertificate"]; ok {
		t.Errorf("absent certificate rendered")
	}
}

func TestOrgKey(t *testing.T) {
	for _, ok := range []string{"abh:000100", "ags:01999001", "psb:01001000_00", " dvdv:Test-RZ "} {
		if _, err := dvdv.ParseOrgKey(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, why := range map[string]string{
		"000100": "no prefix", "abh:": "empty id", ":1234": "empty prefix", "a-b:1234": "letters and digits",
		"abh:12 34": "space", "a:1": "length", "abh:1:2": "colon",
	} {
		if _, err := dvdv.ParseOrgKey(bad); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: err = %v, want %q", bad, err, why)
		}
	}
	var k dvdv.OrgKey
	if err := json.Unmarshal([]byte(`"abh:000100"`), &k); err != nil || k.Prefix != "abh" || k.ID != "000100" {
		t.Errorf("JSON: %v %v", k, err)
	}
}

func TestRouteTrustAnchors(t *testing.T) {
	p := testPKI(t)
	inter := p.MustIssue("intermediary", time.Time{}, time.Time{})
	addr := p.MustIssue("addressee", time.Time{}, time.Time{})
	svc := service(inter, addr)
	org := dvdv.MustParseOrgKey("abh:000100")

	ours := x509.NewCertPool()
	ours.AddCert(p.CA)
	if _, err := dvdv.RouteFromServiceOptions(org, "", svc, time.Now(), dvdv.RouteOptions{Roots: ours}); err != nil {
		t.Fatalf("certificates of the configured CA refused: %v", err)
	}
	// A pool holding some other CA: nothing chains.
	other := x509.NewCertPool()
	other.AddCert(addr)
	_, err := dvdv.RouteFromServiceOptions(org, "", svc, time.Now(), dvdv.RouteOptions{Roots: other})
	if !errors.Is(err, dvdv.ErrCertificateInvalid) || !strings.Contains(err.Error(), "trust anchors") {
		t.Fatalf("err = %v", err)
	}

	// The client applies the configured roots to every lookup.
	e := newEnv(t, envOptions{config: func(c *dvdv.Config) { c.Roots = other }})
	if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211); !errors.Is(err, dvdv.ErrCertificateInvalid) {
		t.Errorf("client ignored its trust anchors: %v", err)
	}
}
