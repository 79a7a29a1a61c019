package dvdv_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

// Find where to deliver an XAusländer 26.11 application for the foreign-
// residents office 000100, asking a DVDV2 server with standalone
// authentication. Here the server is the fake one, serving a sample
// directory on a loopback port.
func ExampleClient_Lookup() {
	pki, err := dvdvtest.SharedPKI() // a throwaway test CA
	if err != nil {
		log.Fatal(err)
	}
	sample, err := pki.NewSample("https://intermediary.example/osci-manager")
	if err != nil {
		log.Fatal(err)
	}
	dir, err := dvdvfile.New(sample.File, dvdvfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	server := dvdvtest.NewServer(dir, dvdvtest.Options{})
	defer server.Close()

	client, err := dvdv.NewClient(dvdv.Config{
		Servers: []string{server.URL},
		Auth:    sample.Client, // usually dvdv.LoadStandaloneAuth(p12File, "", pinFromEnv)
	})
	if err != nil {
		log.Fatal(err)
	}
	org, err := dvdv.ABHKey("000100") // checked against the ABH code list
	if err != nil {
		log.Fatal(err)
	}
	uri, err := dvdv.OZGServiceURI("26.11")
	if err != nil {
		log.Fatal(err)
	}
	route, err := client.Lookup(context.Background(), org, uri)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("organisation:", route.Organization, route.OrganizationName)
	fmt.Println("intermediary:", route.IntermediaryURL)
	fmt.Println("encrypt for: ", route.AddresseeCipherCert.Subject.CommonName)
	fmt.Println("verify with: ", route.AddresseeSignatureCert.Subject.CommonName)

	// Output:
	// organisation: abh:000100 STV Aalen
	// intermediary: https://intermediary.example/osci-manager
	// encrypt for:  ABH 000100 cipher
	// verify with:  ABH 000100 signature
}

// Errors say what the directory answered; callers branch on the kind.
func ExampleError() {
	pki, _ := dvdvtest.SharedPKI()
	sample, _ := pki.NewSample("https://intermediary.example/osci-manager")
	dir, _ := dvdvfile.New(sample.File, dvdvfile.Options{})
	server := dvdvtest.NewServer(dir, dvdvtest.Options{})
	defer server.Close()
	client, _ := dvdv.NewClient(dvdv.Config{Servers: []string{server.URL}, Auth: sample.Client})

	_, err := client.Lookup(context.Background(), dvdv.MustParseOrgKey("abh:000110"), "http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl")
	switch {
	case dvdv.IsNegative(err):
		fmt.Println("no route:", errors.Is(err, dvdv.ErrNoService))
	case dvdv.IsTemporary(err):
		fmt.Println("try again later")
	}
	// Output:
	// no route: true
}

func ExampleABHKey() {
	key, err := dvdv.ABHKey("000101")
	if err != nil {
		log.Fatal(err)
	}
	list, _ := dvdv.DefaultABHList()
	office, _ := list.Lookup(key.ID)
	fmt.Println(key, office.Name)

	_, err = dvdv.ABHKey("999999")
	fmt.Println(errors.Is(err, dvdv.ErrUnknownABH))
	// Output:
	// abh:000101 ZAB Regierungspräsidium Kassel
	// true
}

func ExampleOZGServiceURI() {
	for _, v := range []string{"1.21.1", "26.11"} {
		uri, _ := dvdv.OZGServiceURI(v)
		fmt.Println(uri)
	}
	// Output:
	// http://www.osci.de/xauslaender1211/xauslaender1211OZGPORTALABH.wsdl
	// http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl
}
