package dvdv

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xagw/xagw/internal/sharedpath"
)

// The fixtures are third-party sample answers of a DVDV2 server; they are
// read from ../shared, never copied.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedpath.MustFind("dvdv/fixtures"), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeServiceFixtures(t *testing.T) {
	s, err := decodeService(fixture(t, "ServiceDescription.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != 4711 || s.NameDe != "test-servicename" || s.ServiceDescriptionName != "Test((Dienstbeschreibungs)name)" ||
		s.OrganizationNameDe != "test-organame" || !s.ValidFrom.IsZero() || s.ServiceSpecificationURI != "" {
		t.Errorf("service %+v", s.ServiceBase)
	}
	if !strings.HasPrefix(s.ServiceSpecificationDocument, "<?xml") || !strings.Contains(s.ServiceSpecificationDocument, "dvdvQueryService") {
		t.Errorf("WSDL document not decoded")
	}
	if len(s.ServiceElements) != 1 || s.ServiceElements[0].Type != ElementText || s.ServiceElements[0].Text != "test-sle-text" ||
		!s.ServiceElements[0].Required || s.ServiceElements[0].CipherCertificate != nil {
		t.Errorf("elements %+v", s.ServiceElements)
	}
	// A service without OSCI elements yields no route, and says why.
	_, err = RouteFromService(MustParseOrgKey("ags:01999001"), "", s, time.Now())
	if !errors.Is(err, ErrIncompleteService) || !strings.Contains(err.Error(), "OSCI_INTERMEDIARY") {
		t.Errorf("route from the fixture: %v", err)
	}

	c, err := decodeService(fixture(t, "ServiceDescription-mit-Custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceSpecificationType != "MANUAL" || c.ServiceSpecificationURI != "urn:dummy:1" ||
		c.ServiceElements[0].Type != ElementWebServer || c.ServiceElements[0].CustomType != "Denunziationsportal" {
		t.Errorf("custom service %+v", c)
	}

	batch, err := decodeServiceBatch(fixture(t, "batchFindServiceDescription.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 2 || batch[0] == nil || batch[0].ID != 4711 || batch[1] != nil {
		t.Errorf("batch %v", batch)
	}
}

func TestDecodeOrganizationFixtures(t *testing.T) {
	d, err := decodeOrgDescription(fixture(t, "OrganizationDescription.json"))
	if err != nil {
		t.Fatal(err)
	}
	o := d.Organization
	if o.NameDe != "der-orga-name" || o.PostalAddress != "Postalischer Weg" || o.DVDV1ID != "the-orga-dvdv1id" ||
		!o.ValidFrom.Equal(time.Date(2019, 6, 17, 2, 0, 0, 0, time.UTC)) || len(o.Services) != 1 ||
		o.Services[0].ServiceSpecificationURI != "the-service-spec-uri" || len(d.Representatives) != 1 ||
		d.Representatives[0].NameDe != "the-repr-name" {
		t.Errorf("organisation %+v", d)
	}
	if !o.Services[0].ValidFrom.Equal(time.Date(1967, 4, 6, 12, 24, 48, 666e6, time.UTC)) {
		t.Errorf("millisecond timestamp %v", o.Services[0].ValidFrom)
	}
	// The fixture's client certificate is a real DOI certificate with a
	// placeholder fingerprint: it must not pass the check.
	cc := o.ClientCertificates[0]
	if _, err := cc.X509(); err != nil {
		t.Fatalf("fixture certificate content: %v", err)
	}
	if _, err := cc.Check(time.Date(2017, 9, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrCertificateInvalid) || !strings.Contains(err.Error(), "Fingerabdruck0") {
		t.Errorf("placeholder fingerprint accepted: %v", err)
	}

	batch, err := decodeOrgDescriptionBatch(fixture(t, "batchFindAuthorityDescription.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 2 || batch[0] == nil || batch[0].Organization.NameDe != "der-orga-name" || batch[1] != nil {
		t.Errorf("batch %v", batch)
	}

	light, err := decodeOrganizations([]byte("[" + string(fixture(t, "OrganizationLightweight.json")) + "]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(light) != 1 || light[0].ID != 4711 || !reflect.DeepEqual(light[0].OrganizationKeys, []string{"foo:1234", "bar:4321"}) {
		t.Errorf("lightweight %+v", light)
	}
	orgsBatch, err := decodeOrganizationsBatch(fixture(t, "batchFindOrganizationsByServiceElement.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(orgsBatch) != 2 || len(orgsBatch[0]) != 1 || orgsBatch[0][0].NameEn != "the-orga-name" || len(orgsBatch[1]) != 0 {
		t.Errorf("organisations batch %+v", orgsBatch)
	}
	// The single form as the API description documents it (an
	// OrganizationDescription object) is accepted too.
	one, err := decodeOrganizations(fixture(t, "OrganizationDescription.json"))
	if err != nil || len(one) != 1 || one[0].NameDe != "der-orga-name" {
		t.Errorf("description form: %v %+v", err, one)
	}
}

func TestDecodeListFixtures(t *testing.T) {
	cats, err := decodeStringsBatch("categories", fixture(t, "batchFindCategories.json"))
	if err != nil || !reflect.DeepEqual(cats, [][]string{{"Aufnahmeeinrichtung", "Meldebehörde"}, {}}) {
		t.Errorf("categories %v %v", err, cats)
	}
	oks, err := decodeVerificationBatch(fixture(t, "batchVerifyCategory.json"))
	if err != nil || !reflect.DeepEqual(oks, []bool{true, false}) {
		t.Errorf("verify %v %v", err, oks)
	}
	uris, err := decodeURIs(fixture(t, "findUrisByCategory_Aufnahmeeinrichtung.json"))
	if err != nil || len(uris) != 4 || uris[0] != "http://www.osci.de/xauslaender1170/xauslaender1170ASYLBAMFAE.wsdl" {
		t.Errorf("uris %v %v", err, uris)
	}
	ub, err := decodeURIsBatch(fixture(t, "batchFindServiceSpecificationUrisByCategory.json"))
	if err != nil || len(ub) != 2 || len(ub[0]) != 4 || len(ub[1]) != 0 {
		t.Errorf("uris batch %v %v", err, ub)
	}
	// The schema's form (ServiceBase objects) gives the same list.
	objs := `[{"id":1,"serviceDescriptionName":"a","serviceSpecificationType":"WSDL_OSCI","serviceSpecificationUri":"urn:x:service:1"}]`
	if got, err := decodeURIs([]byte(objs)); err != nil || !reflect.DeepEqual(got, []string{"urn:x:service:1"}) {
		t.Errorf("ServiceBase form: %v %v", err, got)
	}
}

func TestDecodeTokenFixture(t *testing.T) {
	tok, err := decodeToken(fixture(t, "AccessToken.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 86400 || tok.TokenType != "Bearer" || !strings.HasPrefix(tok.AccessToken, "eyJhbGciOiJSUzI1NiIs") {
		t.Errorf("token %+v", tok)
	}
	// The camel-case form of the API description's example.
	camel := `{"accessToken":"eyJhbGciO..fC7CGKIZA","expiresIn":86400,"refreshExpiresIn":0,"tokenType":"Bearer"}`
	if tok, err := decodeToken([]byte(camel)); err != nil || tok.AccessToken != "eyJhbGciO..fC7CGKIZA" || tok.ExpiresIn != 86400 {
		t.Errorf("camel case: %v %+v", err, tok)
	}
	for _, bad := range []string{`{"access_token":"a b","expires_in":5}`, `{"access_token":"x"}`, `{"expires_in":5}`, `[]`, ``} {
		if _, err := decodeToken([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// The API description's own example certificate (Stadt Flensburg) carries
// its SHA-1 fingerprint: our fingerprint and check agree with it.
func TestAPIExampleCertificate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedpath.MustFind("dvdv"), "dvdv2-api-v2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var api struct {
		Components struct {
			Schemas map[string]struct {
				Example struct {
					Organization struct {
						ClientCertificates []map[string]any `yaml:"clientCertificates"`
					} `yaml:"organization"`
				} `yaml:"example"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(data, &api); err != nil {
		t.Fatal(err)
	}
	raw := api.Components.Schemas["OrganizationDescription"].Example.Organization.ClientCertificates
	if len(raw) != 1 {
		t.Fatalf("example certificate not found")
	}
	js, _ := json.Marshal(raw[0])
	var c Certificate
	if err := json.Unmarshal(js, &c); err != nil {
		t.Fatal(err)
	}
	x, err := c.Check(time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("example certificate rejected within its validity: %v", err)
	}
	if Fingerprint(x) != "ca6ecb1b53f73b948de54487f65c63aeb0cb16fc" || x.Subject.CommonName != c.NameSubject {
		t.Errorf("fingerprint %s, subject %q", Fingerprint(x), x.Subject.CommonName)
	}
	if ku := CertificateFromX509(x).X509KeyUsage; ku == nil || *ku != *c.X509KeyUsage {
		t.Errorf("key usage bits %v, the directory says %v", ku, *c.X509KeyUsage)
	}
	if _, err := c.Check(time.Date(2022, 5, 16, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrCertificateExpired) {
		t.Errorf("expired certificate accepted: %v", err)
	}
}

func TestDecodeVersionForms(t *testing.T) {
	for in, want := range map[string]ServerVersion{
		`{"version":"2.15.0","buildnunmber":"123","schemaversion":"42"}`: {"2.15.0", "123", "42"},
		`{"version":"2.15.0","buildnumber":7}`:                           {"2.15.0", "7", ""},
		`"2.15.0"`:                                                       {Version: "2.15.0"},
		`"{\"version\":\"2.16.1\",\"schemaversion\":\"3\"}"`:             {Version: "2.16.1", SchemaVersion: "3"},
	} {
		got, err := decodeVersion([]byte(in))
		if err != nil || *got != want {
			t.Errorf("%s: %v %+v", in, err, got)
		}
	}
	for _, bad := range []string{`{}`, `{"version":{}}`, `[]`, `12`} {
		if _, err := decodeVersion([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestDecodeErrorsSayWhere(t *testing.T) {
	_, err := decodeService([]byte(`{"id":1,"serviceElements":[{"serviceElementType":"OSCI_INTERMEDIARY","cipherCertificate":{"validTo":17}}]}`))
	if err == nil || !strings.Contains(err.Error(), "timestamp") {
		t.Errorf("bad timestamp: %v", err)
	}
	_, err = decodeService([]byte(`{"id":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "id: got JSON string, want int64") {
		t.Errorf("type error: %v", err)
	}
	_, err = decodeService([]byte(`{"id":1,`))
	if err == nil || !strings.Contains(err.Error(), "malformed service description") {
		t.Errorf("syntax error: %v", err)
	}
	_, err = decodeServiceBatch([]byte(`[null, {"id": true}]`))
	if err == nil || !strings.Contains(err.Error(), "entry 1") {
		t.Errorf("batch entry: %v", err)
	}
	if _, err := decodeCategories([]byte(`[{"name":"a","children":[{"prefix":"x"}]}]`)); err == nil || !strings.Contains(err.Error(), "categories[0].children[0]") {
		t.Errorf("nameless category: %v", err)
	}
	if _, err := decodeVerification([]byte(`{}`)); err == nil {
		t.Error("verification without a result accepted as false")
	}
}

func TestDecodeWarning(t *testing.T) {
	for in, want := range map[string]string{
		"=?UTF-8?Q?Der_Dienst_ist_nicht_mehr_g=C3=BCltig?=": "Der Dienst ist nicht mehr gültig",
		"=?utf-8?B?RGllbnN0IGFiZ2VsYXVmZW4gYW0gMDEuMDEu?=":  "Dienst abgelaufen am 01.01.",
		"=?ISO-8859-1?Q?G=FCltigkeit_abgelaufen?=":          "Gültigkeit abgelaufen",
		"plain text":               "plain text",
		"=?UTF-8?Q?line=0Abreak?=": "line break",
		"=?x-unknown?Q?abc?=":      "=?x-unknown?Q?abc?=",
	} {
		if got := DecodeWarning(in); got != want {
			t.Errorf("DecodeWarning(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"ServiceDescription.json", "OrganizationDescription.json", "batchFindAuthorityDescription.json",
		"batchFindOrganizationsByServiceElement.json", "AccessToken.json", "batchVerifyCategory.json"} {
		f.Add(uint8(0), fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		roundTrip := func(v any, dec func([]byte) (any, error)) {
			// What decodes must encode, and decode again to the same JSON.
			b1, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encoding a decoded answer: %v", err)
			}
			v2, err := dec(b1)
			if err != nil {
				t.Fatalf("re-decoding %s: %v", b1, err)
			}
			b2, _ := json.Marshal(v2)
			if string(b1) != string(b2) {
				t.Fatalf("not stable:\n%s\n%s", b1, b2)
			}
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		switch kind % 12 {
		case 0:
			if s, err := decodeService(data); err == nil {
				roundTrip(s, func(b []byte) (any, error) { return decodeService(b) })
				RouteFromService(MustParseOrgKey("abh:000100"), "", s, now)
			}
		case 1:
			if s, err := decodeServiceBatch(data); err == nil {
				for _, svc := range s {
					RouteFromService(MustParseOrgKey("abh:000100"), "urn:x:service", svc, now)
				}
			}
		case 2:
			if d, err := decodeOrgDescription(data); err == nil {
				roundTrip(d, func(b []byte) (any, error) { return decodeOrgDescription(b) })
				for _, c := range d.Organization.ClientCertificates {
					c.Check(now)
				}
			}
		case 3:
			decodeOrgDescriptions(data)
			decodeOrgDescriptionBatch(data)
		case 4:
			decodeStrings("x", data)
			decodeStringsBatch("x", data)
		case 5:
			decodeVerification(data)
			decodeVerificationBatch(data)
		case 6:
			if c, err := decodeCertificate(data); err == nil {
				roundTrip(c, func(b []byte) (any, error) { return decodeCertificate(b) })
				c.Check(now)
			}
		case 7:
			decodeOrganizations(data)
			decodeOrganizationsBatch(data)
		case 8:
			decodeURIs(data)
			decodeURIsBatch(data)
		case 9:
			if c, err := decodeCategories(data); err == nil {
				roundTrip(c, func(b []byte) (any, error) { return decodeCategories(b) })
			}
			decodeIntermediaries(data)
		case 10:
			decodeVersion(data)
			decodeProblem(data).Code()
		case 11:
			if tok, err := decodeToken(data); err == nil && (tok.AccessToken == "" || tok.ExpiresIn <= 0) {
				t.Fatalf("unusable token accepted: %+v", tok)
			}
			DecodeWarning(string(data))
		}
	})
}

func FuzzParseOrgKey(f *testing.F) {
	for _, s := range []string{"abh:000100", "ags:01999001", "psb:01001000_00", "x", ":", "a:b c", "dvdv:Test-RZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseOrgKey(s)
		if err != nil {
			return
		}
		k2, err := ParseOrgKey(k.String())
		if err != nil || k2 != k {
			t.Fatalf("%q parsed to %v, which does not parse back: %v", s, k, err)
		}
	})
}
