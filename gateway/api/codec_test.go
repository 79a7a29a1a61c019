package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/api"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/xauslaender/samples"
)

// With the real XAusländer codec, each kind of defect is answered with 422
// and a problem of its own kind, naming where it is; every kind the API
// answers with is one openapi.yaml documents; nothing is stored.
func TestRealCodecProblemKinds(t *testing.T) {
	s, err := store.Open(t.Context(), store.SQLite, filepath.Join(t.TempDir(), "k.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := acceptServer(t, s)
	sample := func(name string) string {
		smp, ok := samples.Lookup(name)
		if !ok {
			t.Fatalf("no sample %s", name)
		}
		b, err := smp.XML(benchBundle)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	antrag, ruecknahme := sample("antrag-erwerbstaetigkeit"), sample("ruecknahme")
	replace := func(doc, old, new string) []byte {
		if !strings.Contains(doc, old) {
			t.Fatalf("sample has no %q", old)
		}
		return []byte(strings.Replace(doc, old, new, 1))
	}
	cases := []struct {
		name, kind, pathPart string
		body                 []byte
	}{
		{"type code of another message", "header", "nachrichtentyp", replace(ruecknahme, "<code>130111</code>", "<code>130101</code>")},
		{"namespace of no known XAusländer release", "unsupported", "OZG.Antrag.130101", replace(antrag, "http://www.osci.de/xauslaender2611", "http://www.osci.de/xauslaender9999")},
		{"version attribute of another release", "version", "", replace(antrag, `version="26.11"`, `version="1.21.1"`)},
		{"element the schema does not allow", "schema", "/OZG.Antrag.130101/unbekannt", replace(antrag, "<xauslaender:antragsidentifikation>", "<xauslaender:unbekannt/><xauslaender:antragsidentifikation>")},
		{"code not in its code list", "codelist", "grundDesAntrags", replace(antrag, "<code>01</code>\n  </xauslaender:grundDesAntrags>", "<code>99</code>\n  </xauslaender:grundDesAntrags>")},
		{"not well-formed", "xml", "", []byte(antrag[:len(antrag)/2])},
	}
	documented := problemKinds(t)
	for _, c := range cases {
		req, _ := http.NewRequest("POST", hs.URL+"/v1/messages?abh=000100", bytes.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+tokenA)
		req.Header.Set("Content-Type", "application/xml")
		res, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Details []gateway.Problem `json:"details"`
			} `json:"error"`
		}
		json.Unmarshal(raw, &e)
		if res.StatusCode != 422 || e.Error.Code != "validation_failed" {
			t.Errorf("%s: %d %s, want 422 validation_failed", c.name, res.StatusCode, raw)
			continue
		}
		found := false
		for _, p := range e.Error.Details {
			if !slices.Contains(documented, p.Kind) {
				t.Errorf("%s: problem kind %q is not in openapi.yaml's Problem.kind enum %v", c.name, p.Kind, documented)
			}
			if p.Kind == c.kind && strings.Contains(p.Path, c.pathPart) && p.Message != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no problem of kind %q at a path with %q in %s", c.name, c.kind, c.pathPart, raw)
		}
	}
	req, _ := http.NewRequest("GET", hs.URL+"/v1/messages", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list api.MessageList
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %d %v", res.StatusCode, err)
	}
	if len(list.Messages) != 0 {
		t.Fatalf("%d messages stored from invalid requests", len(list.Messages))
	}
}

func problemKinds(t *testing.T) []string {
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Kind struct {
							Enum []string `yaml:"enum"`
						} `yaml:"kind"`
					} `yaml:"properties"`
				} `yaml:"Problem"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	kinds := doc.Components.Schemas.Problem.Properties.Kind.Enum
	if len(kinds) == 0 {
		t.Fatal("openapi.yaml: Problem.kind has no enum")
	}
	return kinds
}
