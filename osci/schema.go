package osci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/lestrrat-go/libxml2"
	"github.com/lestrrat-go/libxml2/parser"
	"github.com/lestrrat-go/libxml2/xsd"

	"github.com/xagw/xagw/internal/safexml"
)

// Schemas validates OSCI envelopes against the official OSCI 1.2 XSD set
// (the schema/ folder of the Governikus library, shipped in
// ../shared/osci/schema). Each soap<Type>.xsd is compiled on first use and
// kept.
//
// The schema set imports the SOAP envelope, xml.xsd and the W3C XML-Enc 1.1
// schema by absolute URL. Instead of relying on a process-wide libxml2
// catalog (XML_CATALOG_FILES is read once per process and may already be
// taken by another package), LoadSchemas copies the set into a private
// temporary folder with those locations pointed at the local extern/ copies.
// Nothing is fetched from the network.
type Schemas struct {
	dir      string
	mu       sync.Mutex
	compiled map[string]*xsd.Schema
}

// externLocations maps the absolute locations used inside the OSCI schema
// set to files under extern/ (the same mapping as the interop pack's
// xmllint catalog).
var externLocations = map[string]string{
	"http://schemas.xmlsoap.org/soap/envelope/":                                   "soap-envelope.xsd",
	"http://www.w3.org/2001/xml.xsd":                                              "xml.xsd",
	"http://www.w3.org/TR/2001/CR-xmldsig-core-20010419/xmldsig-core-schema.xsd":  "xmldsig-core-schema.xsd",
	"http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
	"http://www.w3.org/TR/xmlenc-core/xenc-schema.xsd":                            "xenc-schema.xsd",
	"http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd":          "xenc-schema.xsd",
	"https://www.w3.org/2008/xmlsec/Drafts/xmlenc-core-11/xenc-schema-11.xsd":     "xenc-schema-11.xsd",
	"http://www.w3.org/2001/XMLSchema.dtd":                                        "XMLSchema.dtd",
}

var locationAttr = regexp.MustCompile(`(schemaLocation\s*=\s*|SYSTEM\s+|PUBLIC\s+"[^"]*"\s+)(["'])([^"']+)(["'])`)

// LoadSchemas prepares the OSCI XSD set found in dir (the folder holding
// soapStoreDelivery.xsd, order.xsd, … and extern/). Call Close to remove the
// private copy.
func LoadSchemas(dir string) (*Schemas, error) {
	if _, err := os.Stat(filepath.Join(dir, "order.xsd")); err != nil {
		return nil, fmt.Errorf("osci: %s is not an OSCI schema folder: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "xagw-osci-xsd-")
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(tmp, "extern"), 0o700); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	copyDir := func(sub string) error {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				return err
			}
			if strings.HasSuffix(e.Name(), ".xsd") {
				data = locationAttr.ReplaceAllFunc(data, func(m []byte) []byte {
					parts := locationAttr.FindSubmatch(m)
					local, ok := externLocations[string(parts[3])]
					if !ok {
						return m
					}
					target := filepath.Join(tmp, "extern", local)
					return []byte(string(parts[1]) + string(parts[2]) + target + string(parts[4]))
				})
			}
			if err := os.WriteFile(filepath.Join(tmp, sub, e.Name()), data, 0o600); err != nil {
				return err
			}
		}
		return nil
	}
	if err := copyDir("."); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("osci: preparing schemas: %w", err)
	}
	if err := copyDir("extern"); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("osci: preparing schemas: %w", err)
	}
	return &Schemas{dir: tmp, compiled: map[string]*xsd.Schema{}}, nil
}

// Close frees the compiled schemas and removes the private copy.
func (s *Schemas) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.compiled {
		c.Free()
	}
	s.compiled = nil
	return os.RemoveAll(s.dir)
}

func (s *Schemas) schema(file string) (*xsd.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.compiled == nil {
		return nil, errors.New("osci: schemas closed")
	}
	if c, ok := s.compiled[file]; ok {
		return c, nil
	}
	c, err := xsd.ParseFromFile(filepath.Join(s.dir, file))
	if err != nil {
		return nil, fmt.Errorf("osci: compiling %s: %w", file, err)
	}
	s.compiled[file] = c
	return c, nil
}

// SchemaError lists what an envelope violates in its schema.
type SchemaError struct {
	Schema   string
	Problems []string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("osci: envelope does not validate against %s: %s", e.Schema, strings.Join(e.Problems, "; "))
}

// Validate checks an envelope (the XML of a root MIME part) of message type
// t against its soap<Type>.xsd. Untrusted input is screened by safexml (no
// DTD, size and depth limits) before libxml2 sees it.
func (s *Schemas) Validate(t MessageType, envelopeXML []byte) error {
	file := t.SchemaFile()
	if file == "" {
		return fmt.Errorf("osci: no schema for %s", t)
	}
	if err := safexml.Check(envelopeXML, safexml.Limits{}); err != nil {
		return err
	}
	sc, err := s.schema(file)
	if err != nil {
		return err
	}
	doc, err := libxml2.Parse(envelopeXML, parser.XMLParseNoNet)
	if err != nil {
		return fmt.Errorf("osci: parsing envelope for validation: %w", err)
	}
	defer doc.Free()
	if err := sc.Validate(doc); err != nil {
		var sve xsd.SchemaValidationError
		if errors.As(err, &sve) {
			se := &SchemaError{Schema: file}
			for _, p := range sve.Errors() {
				se.Problems = append(se.Problems, strings.TrimSpace(p.Error()))
			}
			return se
		}
		return err
	}
	return nil
}
