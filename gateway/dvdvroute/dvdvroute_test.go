package dvdvroute_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/dvdvroute"
)

func cert(t *testing.T, cn string, notAfter time.Time) *x509.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestRoutesFromAFileDirectory(t *testing.T) {
	uri, err := dvdv.OZGServiceURI("26.11")
	if err != nil {
		t.Fatal(err)
	}
	inter, abh, old := cert(t, "intermediary", time.Now().Add(time.Hour*24)), cert(t, "abh 000100", time.Now().Add(24*time.Hour)), cert(t, "abh 000200", time.Now().Add(-time.Minute))
	f := &dvdvfile.File{Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{Name: "local", URL: "http://127.0.0.1:9/osci", CipherCertificate: dvdvfile.InlineCert(inter)}},
		Organizations: []dvdvfile.Organization{
			{Key: "abh:000100", Name: "STV Aalen", Services: []dvdvfile.Service{{URI: uri, Intermediary: "local", CipherCertificate: dvdvfile.InlineCert(abh), Scenario: "mediate"}}},
			{Key: "abh:000200", Name: "Expired", Services: []dvdvfile.Service{{URI: uri, Intermediary: "local", CipherCertificate: dvdvfile.InlineCert(old)}}},
		}}
	dir, err := dvdvfile.New(f, dvdvfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &dvdvroute.Router{Directory: dir}
	ctx := context.Background()
	for _, key := range []string{"000100", "abh:000100"} {
		rt, err := r.Route(ctx, key, "26.11")
		if err != nil {
			t.Fatal(err)
		}
		if rt.IntermediaryURL != "http://127.0.0.1:9/osci" || rt.Service != uri || rt.Scenario != gateway.ScenarioMediate ||
			string(rt.AddresseeCipher) != string(abh.Raw) || string(rt.IntermediaryCert) != string(inter.Raw) {
			t.Fatalf("%+v", rt)
		}
	}
	// No service for the version, an unknown office, an expired certificate:
	// permanent, so the message is dead-lettered with the reason.
	for _, c := range []struct{ key, version string }{{"000100", "1.21.1"}, {"000999", "26.11"}, {"000200", "26.11"}, {"", "26.11"}} {
		_, err := r.Route(ctx, c.key, c.version)
		if err == nil || gateway.IsRetryable(err) || gateway.ErrorCode(err) == "" {
			t.Errorf("%s %s: %v (retryable=%v)", c.key, c.version, err, gateway.IsRetryable(err))
		}
	}
}

// The file directory reuses resolved routes; through the Router repeated
// lookups give equal routes, and a certificate that expires between two
// lookups is refused on the second (permanently: the message is
// dead-lettered with the reason rather than sent to a dead key).
func TestRepeatedLookupsAndExpiry(t *testing.T) {
	uri, err := dvdv.OZGServiceURI("26.11")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	now := start
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	inter, abh := cert(t, "intermediary", start.Add(24*time.Hour)), cert(t, "abh 000100", start.Add(10*time.Minute))
	f := &dvdvfile.File{Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{Name: "local", URL: "http://127.0.0.1:9/osci", CipherCertificate: dvdvfile.InlineCert(inter)}},
		Organizations: []dvdvfile.Organization{{Key: "abh:000100", Name: "STV Aalen",
			Services: []dvdvfile.Service{{URI: uri, Intermediary: "local", CipherCertificate: dvdvfile.InlineCert(abh)}}}}}
	dir, err := dvdvfile.New(f, dvdvfile.Options{Now: clock, RouteTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := &dvdvroute.Router{Directory: dir}
	ctx := context.Background()
	first, err := r.Route(ctx, "000100", "26.11")
	if err != nil {
		t.Fatal(err)
	}
	if !first.ValidUntil.Equal(abh.NotAfter) {
		t.Errorf("route valid until %v, want the addressee certificate's end %v", first.ValidUntil, abh.NotAfter)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				rt, err := r.Route(ctx, "000100", "26.11")
				if err != nil || !reflect.DeepEqual(rt, first) {
					t.Errorf("lookup %d: %+v %v", i, rt, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	now = abh.NotAfter.Add(time.Second)
	mu.Unlock()
	_, err = r.Route(ctx, "000100", "26.11")
	if err == nil || gateway.IsRetryable(err) || !errors.Is(err, dvdv.ErrCertificateExpired) {
		t.Fatalf("after the addressee certificate expired: %v (retryable=%v)", err, gateway.IsRetryable(err))
	}
}
