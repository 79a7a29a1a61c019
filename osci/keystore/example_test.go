package keystore_test

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/keystore"
)

// Load a signature key from a PKCS#12 file with the PIN from a file, and check
// its certificate against configured trust roots.
func ExampleLoadPKCS12File() {
	certs := sharedpath.MustFind("osci/certs")
	pin, err := keystore.PINFromFile(filepath.Join(certs, "PIN.txt"))
	if err != nil {
		panic(err)
	}
	id, err := keystore.LoadPKCS12File(filepath.Join(certs, "alice_signature_4096.p12"), pin)
	clear(pin)
	if err != nil {
		panic(err)
	}
	roots, err := keystore.CertPoolFromFiles(filepath.Join(certs, "pem", "governikus-test-ca-chain.pem"))
	if err != nil {
		panic(err)
	}
	policy := &keystore.Policy{
		Roots: roots,
		Now:   func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
	}
	fmt.Println(id.Certificate.Subject.CommonName)
	fmt.Println(policy.Check(id.Certificate, keystore.UsageSignature))

	policy.Now = func() time.Time { return time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC) }
	fmt.Println(policy.Check(id.Certificate, keystore.UsageSignature))
	// Output:
	// Alice Signature 4096
	// <nil>
	// keystore: certificate expired: CN=Alice Signature 4096,OU=Testcertificate Governikus,O=Governikus KG,C=de (serial 586a16c5fa90ae90): valid until 2036-05-03T07:18:12Z, checked at 2037-01-01T00:00:00Z
}
