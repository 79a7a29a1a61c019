package dvdv_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvtest"
	"github.com/xagw/xagw/internal/sharedpath"
)

func TestABHKeyFromTheOfficialCodeList(t *testing.T) {
	l, err := dvdv.DefaultABHList()
	if err != nil {
		t.Fatal(err)
	}
	if l.Version() != "64.0" || l.Len() != 655 {
		t.Errorf("code list version %s with %d offices", l.Version(), l.Len())
	}
	k, err := dvdv.ABHKey("000100")
	if err != nil || k != dvdvtest.SampleABH {
		t.Fatalf("ABHKey(000100) = %v, %v", k, err)
	}
	if a, ok := l.Lookup("000101"); !ok || a.Name != "ZAB Regierungspräsidium Kassel" || a.State != "Hessen" || a.Kind != "Ausländerbehörde" {
		t.Errorf("entry 000101: %+v", a)
	}
	if k, err := dvdv.ABHKey(" abh:000110 "); err != nil || k.String() != "abh:000110" {
		t.Errorf("prefixed key: %v %v", k, err)
	}
	for _, bad := range []string{"999999", "ags:000100", "", "0001"} {
		_, err := dvdv.ABHKey(bad)
		if !errors.Is(err, dvdv.ErrUnknownABH) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	_, err = dvdv.ABHKey("999999")
	if !strings.Contains(err.Error(), "urn:de:xauslaender:codelist:abhkennung version 64.0") {
		t.Errorf("error does not name the code list: %v", err)
	}
	custom := *l
	custom.Prefix = "aus"
	if k, err := custom.Key("000100"); err != nil || k.String() != "aus:000100" {
		t.Errorf("configured prefix: %v %v", k, err)
	}
}

func TestABHListRejectsOtherCodeLists(t *testing.T) {
	dir := filepath.Join(sharedpath.MustFind("xrepository"), "xauslaender", "26.11", "codelisten")
	_, err := dvdv.LoadABHList(filepath.Join(dir, "Familienstand_2.xml"))
	if err == nil || !strings.Contains(err.Error(), "is not urn:de:xauslaender:codelist:abhkennung") {
		t.Errorf("err = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "dtd.xml")
	os.WriteFile(bad, []byte(`<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>`), 0o644)
	if _, err := dvdv.LoadABHList(bad); err == nil || !strings.Contains(err.Error(), "DTD") {
		t.Errorf("DTD accepted: %v", err)
	}
}

func TestServiceURIs(t *testing.T) {
	for v, want := range map[string]string{
		"1.21.1": "http://www.osci.de/xauslaender1211/xauslaender1211OZGPORTALABH.wsdl",
		"26.11":  "http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl",
	} {
		if got, err := dvdv.OZGServiceURI(v); err != nil || got != want {
			t.Errorf("%s: %q %v", v, got, err)
		}
	}
	s := dvdv.ServiceURIs{
		Template:  "urn:operator:xa{v}:{service}",
		Overrides: map[string]string{"26.11 OZGPORTALABH": "http://operator.example/xa2611.wsdl"},
	}
	if got, _ := s.For("26.11", dvdv.ServiceOZGPortalToABH); got != "http://operator.example/xa2611.wsdl" {
		t.Errorf("override: %q", got)
	}
	if got, _ := s.For("1.21.1", dvdv.ServiceOZGPortalToABH); got != "urn:operator:xa1211:OZGPORTALABH" {
		t.Errorf("template: %q", got)
	}
	// Odd templates come out as one strings.Replacer pass over them would
	// render them (For replaces without building a Replacer per call).
	for _, tmpl := range []string{"{v}{v}/{service}{service}", "{{v}service}", "{service{v}}", "{v", "{service}{v}}{"} {
		got, err := dvdv.ServiceURIs{Template: tmpl}.For("1.21.1", "ABC")
		if want := strings.NewReplacer("{v}", "1211", "{service}", "ABC").Replace(tmpl); err != nil || got != want {
			t.Errorf("template %q: %q, want %q (%v)", tmpl, got, want, err)
		}
	}
	for _, v := range []string{"", "1.21.x", "v26.11", "1..2"} {
		if _, err := dvdv.OZGServiceURI(v); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
}
