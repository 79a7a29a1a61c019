package codelist

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
)

var (
	regOnce sync.Once
	reg     *Registry
	regErr  error
)

// bundleRegistry loads the real bundle's lists once per test binary.
func bundleRegistry(t testing.TB) *Registry {
	t.Helper()
	regOnce.Do(func() { reg, regErr = LoadDir(sharedpath.MustFind("xrepository")) })
	if regErr != nil {
		t.Fatal(regErr)
	}
	return reg
}

func TestLoadBundleLists(t *testing.T) {
	r := bundleRegistry(t)
	files, _ := filepath.Glob(filepath.Join(sharedpath.MustFind("xrepository"), "*", "*", "codelisten", "*.xml"))
	if got := len(r.Lists()); got != len(files) || got == 0 {
		t.Fatalf("loaded %d lists from %d files", got, len(files))
	}
	abh, err := r.Get("urn:de:xauslaender:codelist:abhkennung", "64.0")
	if err != nil {
		t.Fatal(err)
	}
	if abh.KeyColumn != "BHKNZ" {
		t.Errorf("key column %q", abh.KeyColumn)
	}
	row, ok := abh.Lookup("000100")
	if !ok || row["Kurzbezeichnung"] != "STV Aalen" || row["Bundesland"] != "Baden-Württemberg" {
		t.Errorf("000100 → %v %v", row, ok)
	}
	// Every row of the real file was read: count <Row> in the source.
	data, _ := os.ReadFile(abh.File)
	if want := strings.Count(string(data), "<Row>"); abh.Len() != want {
		t.Errorf("%d rows, file has %d", abh.Len(), want)
	}
	fk, err := r.Get("urn:xoev-de:xauslaender:codeliste:ozg.grunddesaufenthalts81a", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if fk.KeyColumn != "code" { // recommended key, not the second key
		t.Errorf("key column %q", fk.KeyColumn)
	}
}

func TestCheck(t *testing.T) {
	r := bundleRegistry(t)
	const grund = "urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund"
	if err := r.Check(grund, "4", "01"); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(grund, "", "01"); err != nil { // only one version loaded
		t.Fatal(err)
	}
	cases := []struct {
		uri, ver, code string
		want           error
		msg            string
	}{
		{grund, "4", "99", ErrUnknownCode, `code "99" is not in code list ` + grund + ` version 4`},
		{grund, "3", "01", ErrUnknownVersion, "version 3 is not available (have 4)"},
		{"urn:nope", "1", "x", ErrUnknownList, "urn:nope is not available"},
	}
	for _, c := range cases {
		err := r.Check(c.uri, c.ver, c.code)
		var ce *CodeError
		if !errors.Is(err, c.want) || !errors.As(err, &ce) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Check(%s,%s,%s) = %v; want %v containing %q", c.uri, c.ver, c.code, err, c.want, c.msg)
		}
	}
}

func TestParseRejects(t *testing.T) {
	gc := func(body string) string {
		return `<gc:CodeList xmlns:gc="` + Namespace + `"><Identification><Version>1</Version><CanonicalUri>urn:t</CanonicalUri></Identification>` + body + `</gc:CodeList>`
	}
	cases := map[string]string{
		"dtd":            `<!DOCTYPE x [<!ENTITY a "b">]><x/>`,
		"wrong root":     `<CodeList/>`,
		"no uri":         `<gc:CodeList xmlns:gc="` + Namespace + `"><Identification><Version>1</Version></Identification></gc:CodeList>`,
		"no columns":     gc(``),
		"duplicate code": gc(`<ColumnSet><Column Id="k"/></ColumnSet><SimpleCodeList><Row><Value><SimpleValue>a</SimpleValue></Value></Row><Row><Value><SimpleValue>a</SimpleValue></Value></Row></SimpleCodeList>`),
		"unknown column": gc(`<ColumnSet><Column Id="k"/></ColumnSet><SimpleCodeList><Row><Value ColumnRef="z"><SimpleValue>a</SimpleValue></Value></Row></SimpleCodeList>`),
		"no key value":   gc(`<ColumnSet><Column Id="k"/><Column Id="v"/></ColumnSet><SimpleCodeList><Row><Value ColumnRef="v"><SimpleValue>a</SimpleValue></Value></Row></SimpleCodeList>`),
	}
	for name, in := range cases {
		if _, err := Parse([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), "genericode") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestImplicitColumns(t *testing.T) {
	l, err := Parse([]byte(`<gc:CodeList xmlns:gc="` + Namespace + `"><Identification><Version>2</Version><CanonicalUri>urn:t</CanonicalUri></Identification>
<ColumnSet><Column Id="k"/><Column Id="v"/></ColumnSet>
<SimpleCodeList><Row><Value><SimpleValue>A</SimpleValue></Value><Value><SimpleValue>Alpha</SimpleValue></Value></Row></SimpleCodeList></gc:CodeList>`))
	if err != nil {
		t.Fatal(err)
	}
	if row, ok := l.Lookup("A"); !ok || row["v"] != "Alpha" {
		t.Fatalf("%v %v", row, ok)
	}
}

func TestCompareVersions(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{{"4", "4", 0}, {"4", "10", -1}, {"64.0", "63.9", 1}, {"1", "1.0", 0}, {"1.1", "1.0", 1}, {"2a", "2b", -1}}
	for _, c := range cases {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s,%s)=%d", c.a, c.b, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`<gc:CodeList xmlns:gc="` + Namespace + `"><Identification><Version>1</Version><CanonicalUri>urn:t</CanonicalUri></Identification><ColumnSet><Column Id="k"/></ColumnSet><SimpleCodeList><Row><Value><SimpleValue>a</SimpleValue></Value></Row></SimpleCodeList></gc:CodeList>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		for _, c := range l.Codes() {
			if !l.Contains(c) {
				t.Fatalf("code %q listed but not found", c)
			}
		}
	})
}
