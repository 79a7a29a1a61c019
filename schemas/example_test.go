package schemas_test

import (
	"fmt"
	"strings"

	"github.com/xagw/xagw/schemas"
)

// Validate a document against the bundle in $XAGW_SCHEMAS or ../shared/xrepository.
func Example() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := `<xauslaender:OZG.Ruecknahme.130111 xmlns:xauslaender="http://www.osci.de/xauslaender2611"
 produkt="demo" produkthersteller="demo" standard="XAusländer" version="26.11">
 <nachrichtenkopf.g2g/>
</xauslaender:OZG.Ruecknahme.130111>`
	r := bundle.Validate([]byte(doc), schemas.ValidateOptions{})
	fmt.Println("valid:", r.Valid)
	for _, p := range r.Problems {
		msg := p.Message[strings.Index(p.Message, "': ")+3:] // drop the "Element '…': " prefix
		fmt.Println(p.Kind, p.Line, p.Path, msg)
	}
	// Output:
	// valid: false
	// schema 3 /OZG.Ruecknahme.130111/nachrichtenkopf.g2g Missing child element(s). Expected is ( identifikation.nachricht ).
	// schema 2 /OZG.Ruecknahme.130111 Missing child element(s). Expected is one of ( anschrift.leser, anschrift.autor ).
}

// Check a coded value against the bundle's code lists.
func ExampleBundle_CodeLists() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	abh, _ := bundle.CodeLists().Latest("urn:de:xauslaender:codelist:abhkennung")
	row, _ := abh.Lookup("000100")
	fmt.Println(abh.Version, row["Kurzbezeichnung"])
	fmt.Println(bundle.CodeLists().Check("urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund", "4", "77"))
	// Output:
	// 64.0 STV Aalen
	// code "77" is not in code list urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund version 4
}
