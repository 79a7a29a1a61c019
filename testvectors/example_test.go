package testvectors_test

import (
	"context"
	"fmt"
	"os"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/testvectors"
)

// Check the project against part of the kit: the negative XAusländer
// vectors with broken XML are rejected with their error class.
func ExampleVerify() {
	bundle, err := schemas.OpenDefault() // $XAGW_SCHEMAS or ../shared/xrepository
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := testvectors.Verify(context.Background(), testvectors.VerifyOptions{
		Dir: ".", Bundle: bundle, Only: []string{"xa.invalid.xml."},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, res := range r.Results {
		fmt.Println(res.Status, res.ID, res.Got)
	}
	fmt.Println("conforms:", r.OK())
	// Output:
	// pass xa.invalid.xml.doctype-external-entity reject/xml
	// pass xa.invalid.xml.truncated reject/xml
	// conforms: true
}

// Read the manifest to drive your own test harness: which file, which
// keys, which outcome.
func ExampleLoadManifest() {
	m, err := testvectors.LoadManifest(".")
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := m.Vector("osci.invalid.decrypt.truncated-gcm-tag")
	fmt.Println(v.Inputs[0].Path)
	fmt.Println(v.Expect.Outcome, v.Expect.Class, v.Expect.MessageType)
	for _, k := range v.Keys {
		if k.Role == "decrypt-transport" {
			fmt.Println(k.Role, k.Files[0])
		}
	}
	// Output:
	// osci/invalid/decrypt.truncated-gcm-tag.mime
	// reject osci.decrypt responseToFetchDelivery
	// decrypt-transport pki/addressee-cipher.cert.pem
}

// Classify a received XAusländer message the way the kit does.
func ExampleXAChecker_Check() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile("xauslaender/invalid/header-nachrichtentyp-mismatch.xml")
	if err != nil {
		fmt.Println(err)
		return
	}
	res := testvectors.NewXAChecker(bundle).Check(data)
	fmt.Println(res.Valid(), res.Class)
	for _, f := range res.Findings {
		fmt.Println(f.Path)
	}
	// Output:
	// false header
	// /OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp
}
