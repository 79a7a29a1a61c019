package dvdvfile_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

// A directory written by hand: certificates lie next to the file.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "dvdv-example")
	defer os.RemoveAll(dir)
	pki, _ := dvdvtest.SharedPKI() // stands in for the real certificates
	for name, cn := range map[string]string{"intermediary.pem": "Intermediary", "abh.pem": "ABH 000100"} {
		c, _ := pki.Issue(cn, pki.CA.NotBefore, pki.CA.NotAfter)
		os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
	}
	doc := `version: 1
intermediaries:
  - name: local
    url: http://127.0.0.1:8090/osci
    cipherCertificate: intermediary.pem
organizations:
  - key: abh:000100
    name: STV Aalen
    services:
      - uri: http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl
        intermediary: local
        cipherCertificate: abh.pem
        scenario: store
`
	path := filepath.Join(dir, "dvdv.yaml")
	os.WriteFile(path, []byte(doc), 0o644)

	d, err := dvdvfile.Load(path, dvdvfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	route, err := d.Lookup(context.Background(), dvdv.MustParseOrgKey("abh:000100"),
		"http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(route.IntermediaryURL, route.Scenario, route.AddresseeCipherCert.Subject.CommonName)
	// Output:
	// http://127.0.0.1:8090/osci store ABH 000100
}

// The gateway writes its local directory by program.
func ExampleFile_WriteFile() {
	pki, _ := dvdvtest.SharedPKI()
	cipher, _ := pki.Issue("ABH 000100", pki.CA.NotBefore, pki.CA.NotAfter)
	interm, _ := pki.Issue("Intermediary", pki.CA.NotBefore, pki.CA.NotAfter)
	f := &dvdvfile.File{
		Intermediaries: []dvdvfile.Intermediary{{Name: "local", URL: "http://127.0.0.1:8090/osci", CipherCertificate: dvdvfile.InlineCert(interm)}},
		Organizations: []dvdvfile.Organization{{
			Key: "abh:000100", Name: "STV Aalen",
			Services: []dvdvfile.Service{{
				URI: "http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl", Intermediary: "local",
				CipherCertificate: dvdvfile.InlineCert(cipher), Scenario: "store",
			}},
		}},
	}
	dir, _ := os.MkdirTemp("", "dvdv-example")
	defer os.RemoveAll(dir)
	if err := f.WriteFile(filepath.Join(dir, "dvdv.yaml")); err != nil {
		log.Fatal(err)
	}
	d, err := dvdvfile.Load(filepath.Join(dir, "dvdv.yaml"), dvdvfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	uris, _ := d.FindServiceSpecificationURIsByCategory(context.Background(), "Behörde")
	fmt.Println(uris)
	// Output:
	// [http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl]
}
