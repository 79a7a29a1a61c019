package testpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/xmldsig"
	"github.com/xagw/xagw/osci/xmlenc"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testOptions(t testing.TB) Options {
	pinFile := filepath.Join(t.TempDir(), "pin.txt")
	if err := os.WriteFile(pinFile, []byte("4711\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pin, err := keystore.PINFromFile(pinFile)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Now: testNow, RSABits: 2048, PIN: pin, InsecureDeterministicSeed: []byte("xagw testpki unit test")}
}

var (
	pkiOnce sync.Once
	shared  *PKI
	pkiErr  error
)

// sharedPKI is generated once per test binary (2048-bit keys to keep the
// run short; the default is 4096).
func sharedPKI(t testing.TB) *PKI {
	pkiOnce.Do(func() { shared, pkiErr = Generate(testOptions(t)) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return shared
}

func readDir(t *testing.T, dir string) map[string][]byte {
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

// Same seed, same clock → the same bytes in every file, PKCS#12 included.
func TestDeterministicRegeneration(t *testing.T) {
	a := sharedPKI(t)
	b, err := Generate(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	da, db := t.TempDir(), t.TempDir()
	if err := a.WriteDir(da); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteDir(db); err != nil {
		t.Fatal(err)
	}
	fa, fb := readDir(t, da), readDir(t, db)
	if len(fa) != len(fb) || len(fa) < 40 {
		t.Fatalf("%d and %d files", len(fa), len(fb))
	}
	var names []string
	for n := range fa {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !bytes.Equal(fa[n], fb[n]) {
			t.Errorf("%s differs between two runs", n)
		}
	}
	// Another seed gives other keys.
	if _, err := Generate(Options{Now: testNow, RSABits: 2048, InsecureDeterministicSeed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}

func TestDeterministicNeedsClockAndSeed(t *testing.T) {
	if _, err := Generate(Options{InsecureDeterministicSeed: []byte("s")}); err == nil {
		t.Error("seed without a fixed clock accepted")
	}
	if _, err := Generate(Options{Now: testNow, InsecureDeterministicSeed: []byte{}}); err == nil {
		t.Error("empty seed accepted")
	}
	if _, err := Generate(Options{RSABits: 1024}); err == nil {
		t.Error("RSA-1024 accepted")
	}
}

// Per-entity DRBGs: an entity's material depends on seed and name only.
func TestDRBGIndependence(t *testing.T) {
	a, b := newDRBG([]byte("s"), "one"), newDRBG([]byte("s"), "one")
	c := newDRBG([]byte("s"), "two")
	x, y, z := make([]byte, 64), make([]byte, 64), make([]byte, 64)
	io.ReadFull(a, x)
	io.ReadFull(b, y)
	io.ReadFull(c, z)
	if !bytes.Equal(x, y) || bytes.Equal(x, z) {
		t.Fatal("DRBG streams are not a function of seed and name")
	}
	k1, err := deterministicRSAKey(newDRBG([]byte("k"), "rsa"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := deterministicRSAKey(newDRBG([]byte("k"), "rsa"), 2048)
	if !k1.Equal(k2) || k1.N.BitLen() != 2048 || k1.Primes[0].BitLen() != 1024 {
		t.Fatal("deterministic RSA key not reproducible or wrong size")
	}
}

func TestRolesAndStatusesAgainstPolicy(t *testing.T) {
	p := sharedPKI(t)
	pol := p.Policy()
	roles := map[string]bool{}
	for _, e := range p.Entities {
		roles[e.Role+"/"+e.Usage] = true
		usage := keystore.UsageSignature
		if e.Usage == UsageCipher {
			usage = keystore.UsageEncryption
		}
		err := pol.Check(e.Certificate, usage)
		want := map[string]error{StatusValid: nil, StatusExpired: keystore.ErrExpired, StatusNotYetValid: keystore.ErrNotYetValid, StatusRevoked: keystore.ErrRevoked}[e.Status]
		if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s (%s): %v, want %v", e.Name, e.Status, err, want)
		}
		// Signature certificates are not cipher certificates and vice versa.
		other := keystore.UsageEncryption
		if usage == keystore.UsageEncryption {
			other = keystore.UsageSignature
		}
		if e.Status == StatusValid {
			if err := pol.Check(e.Certificate, other); !errors.Is(err, keystore.ErrKeyUsage) {
				t.Errorf("%s used for %v: %v", e.Name, other, err)
			}
		}
	}
	for _, r := range []string{"intermediary/signature", "intermediary/cipher", "sender/signature", "sender/cipher", "addressee/signature", "addressee/cipher", "reader/cipher"} {
		if !roles[r] {
			t.Errorf("no %s certificate", r)
		}
	}
	if k, ok := p.Entity("sender-signature").Key.(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
		t.Error("main RSA size not applied")
	}
	if _, ok := p.Entity("sender-signature-ecdsa-p384").Key.(*ecdsa.PrivateKey); !ok {
		t.Error("no ECDSA variant")
	}
	// Not trusted by a policy with other roots.
	if err := (&keystore.Policy{Roots: p.Roots(), Now: func() time.Time { return testNow }}).Check(p.Entity("sender-signature").Certificate, keystore.UsageSignature); !errors.Is(err, keystore.ErrUntrusted) {
		t.Errorf("without the issuing CA as intermediate: %v", err)
	}
}

func TestWriteDirAndLoad(t *testing.T) {
	p := sharedPKI(t)
	dir := t.TempDir()
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Now.Equal(p.Now) || len(back.Entities) != len(p.Entities) || !back.Deterministic {
		t.Fatalf("loaded %+v", back)
	}
	for _, e := range p.Entities {
		le := back.Entity(e.Name)
		if le == nil || !le.Certificate.Equal(e.Certificate) || le.Status != e.Status || le.Role != e.Role {
			t.Fatalf("%s not loaded back", e.Name)
		}
		// The PKCS#12 file opens with the PIN and carries the chain.
		id, err := keystore.LoadPKCS12File(filepath.Join(dir, e.Name+".p12"), []byte("4711"))
		if err != nil {
			t.Fatalf("%s.p12: %v", e.Name, err)
		}
		if !id.Certificate.Equal(e.Certificate) || len(id.Chain) != 2 {
			t.Errorf("%s.p12: chain of %d", e.Name, len(id.Chain))
		}
	}
	if err := back.Policy().Check(back.Entity("addressee-cipher").Certificate, keystore.UsageEncryption); err != nil {
		t.Errorf("loaded policy: %v", err)
	}
	if err := back.Policy().Check(back.Entity("addressee-cipher-revoked").Certificate, keystore.UsageEncryption); !errors.Is(err, keystore.ErrRevoked) {
		t.Errorf("loaded CRL: %v", err)
	}
	idx, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	for _, s := range []string{`"format": "xagw-testpki/1"`, `"pkcs12": "modern-2023"`, `"role": "intermediary"`, `"status": "revoked"`, `"key_type": "ecdsa-p256"`} {
		if !strings.Contains(string(idx), s) {
			t.Errorf("index.json lacks %s", s)
		}
	}
	if strings.Contains(string(idx), "4711") {
		t.Error("index.json contains the PIN")
	}
	if info, _ := os.Stat(filepath.Join(dir, "sender-signature.key.pem")); info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", info.Mode().Perm())
	}
	// Legacy PKCS#12 (3DES/RC2, as the Governikus tools write) opens too.
	legacy := *p
	legacy.legacyPKCS12 = true
	data, err := legacy.pkcs12For(p.Entity("sender-cipher"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.LoadPKCS12(data, []byte("4711")); err != nil {
		t.Errorf("legacy PKCS#12: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sender-cipher.cert.pem"), certPEM(p.Root.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("a replaced certificate was not noticed")
	}
}

// The keys do their OSCI jobs: signature keys sign XML (RSA and ECDSA),
// cipher keys unwrap content keys.
func TestKeysWorkWithOSCIPackages(t *testing.T) {
	p := sharedPKI(t)
	for _, e := range p.Entities {
		if e.Status != StatusValid {
			continue
		}
		switch e.Usage {
		case UsageSignature:
			doc := etree.NewDocument()
			root := doc.CreateElement("r")
			root.CreateAttr("xmlns:ds", xmldsig.NamespaceDSig)
			body := root.CreateElement("b")
			body.CreateAttr("Id", "body")
			sig, err := (&xmldsig.Signer{Key: e.Key}).Sign(root, []xmldsig.Reference{{Element: body}}, nil)
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			if _, err := xmldsig.Verify(sig, xmldsig.VerifyOptions{Key: e.Certificate.PublicKey}); err != nil {
				t.Errorf("%s: %v", e.Name, err)
			}
		case UsageCipher:
			ck, _ := xmlenc.NewKey(xmlenc.AES256GCM)
			ek, err := xmlenc.NewEncryptedKey(xmlenc.DefaultKeyTransport, e.Certificate, ck)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := e.Identity().Decrypter()
			got, err := ek.Unwrap(d, xmlenc.AES256GCM, xmlenc.DecryptOptions{})
			if err != nil || !bytes.Equal(got, ck) {
				t.Errorf("%s: %v", e.Name, err)
			}
		}
	}
}

// Rewriting a folder whose key files a user made group-readable leaves
// them 0600: os.WriteFile alone would keep the old mode (security review,
// finding 9). Certificates stay world-readable.
func TestWriteDirTightensExistingKeyFiles(t *testing.T) {
	p := sharedPKI(t)
	dir := t.TempDir()
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sender-signature.key.pem", "sender-signature.p12"} {
		if err := os.Chmod(filepath.Join(dir, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]os.FileMode{"sender-signature.key.pem": 0o600, "sender-signature.p12": 0o600, "sender-signature.cert.pem": 0o644} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", f, info.Mode().Perm(), want, err)
		}
	}
	if err := keystore.CheckPrivateFile(filepath.Join(dir, "sender-signature.key.pem")); err != nil {
		t.Error(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
