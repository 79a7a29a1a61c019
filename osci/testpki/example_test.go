package testpki_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

// Generate a reproducible test PKI (as the conformance kit does), write it
// with PKCS#12 files protected by a PIN from a file, and check certificates
// with the policy that trusts it.
func ExampleGenerate() {
	dir, _ := os.MkdirTemp("", "pki")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "pin.txt"), []byte("123456\n"), 0o600)
	pin, err := keystore.PINFromFile(filepath.Join(dir, "pin.txt"))
	if err != nil {
		panic(err)
	}
	p, err := testpki.Generate(testpki.Options{
		Now:                       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		RSABits:                   2048, // default 4096
		PIN:                       pin,
		InsecureDeterministicSeed: []byte("conformance kit v1"), // test material only
	})
	if err != nil {
		panic(err)
	}
	if err := p.WriteDir(filepath.Join(dir, "pki")); err != nil {
		panic(err)
	}
	policy := p.Policy()
	for _, name := range []string{"intermediary-cipher", "sender-signature-ecdsa-p256", "sender-signature-expired", "addressee-cipher-revoked"} {
		e := p.Entity(name)
		usage := keystore.UsageSignature
		if e.Usage == testpki.UsageCipher {
			usage = keystore.UsageEncryption
		}
		err := policy.Check(e.Certificate, usage)
		fmt.Printf("%s %s %s: ok=%v\n", e.Role, e.Usage, e.Status, err == nil)
	}
	// Output:
	// intermediary cipher valid: ok=true
	// sender signature valid: ok=true
	// sender signature expired: ok=false
	// addressee cipher revoked: ok=false
}
