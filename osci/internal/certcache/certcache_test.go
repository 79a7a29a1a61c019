package certcache

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func newCert(t testing.TB, serial int64) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "certcache"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Parse gives what x509.ParseCertificate gives, for exactly those bytes:
// the same certificate again, another certificate its own, a changed byte
// an error or a different certificate, never the cached one.
func TestParseIsKeyedByTheExactBytes(t *testing.T) {
	a, b := newCert(t, 1), newCert(t, 2)
	ca, err := Parse(a)
	if err != nil || !bytes.Equal(ca.Raw, a) {
		t.Fatalf("first parse: %v", err)
	}
	again, _ := Parse(append([]byte(nil), a...))
	if again != ca {
		t.Error("same bytes parsed twice")
	}
	cb, err := Parse(b)
	if err != nil || cb == ca || !bytes.Equal(cb.Raw, b) {
		t.Fatalf("second certificate: %v", err)
	}
	bad := append([]byte(nil), a...)
	bad[len(bad)-1] ^= 1 // inside the signature: still parses, as its own certificate
	cbad, err := Parse(bad)
	if err != nil || cbad == ca || !bytes.Equal(cbad.Raw, bad) {
		t.Fatalf("changed signature byte: %v", err)
	}
	if _, err := Parse(a[:len(a)-10]); err == nil {
		t.Error("truncated certificate parsed")
	}
}

// The cache starts over when full instead of growing.
func TestParseIsBounded(t *testing.T) {
	der := newCert(t, 3)
	for i := 0; i < MaxEntries+10; i++ {
		d := append([]byte(nil), der...)
		d[len(d)-1] = byte(i)
		d[len(d)-2] = byte(i >> 8)
		Parse(d)
	}
	cache.RLock()
	n := len(cache.m)
	cache.RUnlock()
	if n > MaxEntries {
		t.Fatalf("%d entries", n)
	}
}

// FromText finds a certificate only by exactly the text it was remembered
// with; the cache is bounded.
func TestTextCacheIsKeyedByTheExactText(t *testing.T) {
	c, err := Parse(newCert(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	RememberText("TUlJQg==\n", c)
	if FromText("TUlJQg==\n") != c {
		t.Fatal("remembered text not found")
	}
	for _, other := range []string{"TUlJQg==", "TUlJQg==\r\n", "TUlJQh==\n", ""} {
		if FromText(other) != nil {
			t.Fatalf("%q found", other)
		}
	}
	for i := 0; i < MaxEntries+10; i++ {
		RememberText(string(rune('a'+i%26))+string(rune(i)), c)
	}
	texts.RLock()
	n := len(texts.m)
	texts.RUnlock()
	if n > MaxEntries {
		t.Fatalf("%d entries", n)
	}
	long := string(bytes.Repeat([]byte("A"), MaxText+1))
	RememberText(long, c)
	if FromText(long) != nil {
		t.Fatal("over-long text kept")
	}
}
