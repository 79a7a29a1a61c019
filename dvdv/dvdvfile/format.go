// Package dvdvfile is a DVDV directory kept in a local YAML (or JSON) file,
// for local runs, tests and the gateway's embedded default. It implements
// dvdv.Directory and dvdv.Querier with the same semantics as the DVDV2 API,
// so the fake DVDV server (package dvdvtest) serves it over HTTP.
//
// # File format
//
// The file is YAML; JSON is accepted too (it is read by the same YAML 1.2
// parser). Unknown keys are errors, so typos do not go unnoticed.
//
//	version: 1
//	intermediaries:
//	  - name: local                      # referenced by services
//	    url: http://127.0.0.1:8090/osci  # where OSCI messages are posted
//	    provider: Local test intermediary
//	    cipherCertificate: certs/intermediary-cipher.pem   # path relative to this file
//	    signatureCertificate: certs/intermediary-sig.pem   # optional
//	organizations:
//	  - key: abh:000100                  # or keys: [abh:000100, ags:08136088]
//	    name: STV Aalen
//	    category: Ausländerbehörde       # optional (default "Behörde")
//	    clientCertificates:              # optional: may obtain DVDV tokens (fake server)
//	      - certs/abh-client.pem
//	    services:
//	      - uri: http://www.osci.de/xauslaender1211/xauslaender1211OZGPORTALABH.wsdl
//	        intermediary: local
//	        addressee: urn:de:xagw:abh:000100          # optional OSCI addressee URI
//	        cipherCertificate: |                        # inline PEM works too
//	          -----BEGIN CERTIFICATE-----
//	          MIIB…
//	          -----END CERTIFICATE-----
//	        signatureCertificate:
//	          file: certs/abh-signature.pem
//	          revocationDate: 2026-01-01T00:00:00Z     # optional: marks it revoked
//	          revocationReason: KEY_COMPROMISE
//	        validFrom: 2024-01-01T00:00:00Z            # optional validity window
//	        validTo: 2030-01-01T00:00:00Z
//	        scenario: store                            # optional: store, forward, mediate
//	categories:                                        # optional category tree
//	  - name: Ausländerwesen
//	    children:
//	      - name: Ausländerbehörde
//	        prefix: abh
//
// A certificate is written as a string (inline PEM if it contains
// "-----BEGIN", else a file path relative to the directory file) or as a
// mapping with pem or file and optional revocationDate/revocationReason.
package dvdvfile

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xagw/xagw/dvdv"
)

// FormatVersion is the version of the file format written by this package.
const FormatVersion = 1

// File is the content of a directory file.
type File struct {
	Version        int             `yaml:"version"`
	Intermediaries []Intermediary  `yaml:"intermediaries,omitempty"`
	Organizations  []Organization  `yaml:"organizations"`
	Categories     []dvdv.Category `yaml:"categories,omitempty"`
}

// Intermediary is an OSCI intermediary that services refer to by name.
type Intermediary struct {
	Name                 string   `yaml:"name"`
	URL                  string   `yaml:"url"`
	Provider             string   `yaml:"provider,omitempty"`
	CipherCertificate    *CertRef `yaml:"cipherCertificate"`
	SignatureCertificate *CertRef `yaml:"signatureCertificate,omitempty"`
}

// Organization is an organisation with its services.
type Organization struct {
	// Key is the organisation key ("prefix:id"); Keys lists further keys.
	Key                string     `yaml:"key,omitempty"`
	Keys               []string   `yaml:"keys,omitempty"`
	Name               string     `yaml:"name"`
	Category           string     `yaml:"category,omitempty"`
	Address            string     `yaml:"address,omitempty"`
	ValidFrom          *time.Time `yaml:"validFrom,omitempty"`
	ValidTo            *time.Time `yaml:"validTo,omitempty"`
	ClientCertificates []*CertRef `yaml:"clientCertificates,omitempty"`
	Services           []Service  `yaml:"services,omitempty"`
}

// Service is one service of an organisation.
type Service struct {
	URI string `yaml:"uri"`
	// Name is the service description name (default: the last path segment
	// of the URI without ".wsdl").
	Name                 string     `yaml:"name,omitempty"`
	Intermediary         string     `yaml:"intermediary"`
	Addressee            string     `yaml:"addressee,omitempty"`
	CipherCertificate    *CertRef   `yaml:"cipherCertificate"`
	SignatureCertificate *CertRef   `yaml:"signatureCertificate,omitempty"`
	ValidFrom            *time.Time `yaml:"validFrom,omitempty"`
	ValidTo              *time.Time `yaml:"validTo,omitempty"`
	Scenario             string     `yaml:"scenario,omitempty"`
	Document             string     `yaml:"document,omitempty"`
}

// CertRef is a certificate, inline or in a file, with optional revocation.
type CertRef struct {
	PEM              string     `yaml:"pem,omitempty"`
	File             string     `yaml:"file,omitempty"`
	RevocationDate   *time.Time `yaml:"revocationDate,omitempty"`
	RevocationReason string     `yaml:"revocationReason,omitempty"`
}

// InlineCert returns a reference holding cert as inline PEM.
func InlineCert(cert *x509.Certificate) *CertRef {
	return &CertRef{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))}
}

// CertFile returns a reference to a PEM file (relative to the directory
// file, or absolute).
func CertFile(path string) *CertRef { return &CertRef{File: path} }

var certRefKeys = map[string]bool{"pem": true, "file": true, "revocationDate": true, "revocationReason": true}

// UnmarshalYAML accepts a string (inline PEM or a path) or a mapping.
func (c *CertRef) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		if strings.Contains(n.Value, "-----BEGIN") {
			*c = CertRef{PEM: n.Value}
		} else {
			*c = CertRef{File: n.Value}
		}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !certRefKeys[k] {
				return fmt.Errorf("line %d: unknown certificate field %q (want pem, file, revocationDate, revocationReason)", n.Content[i].Line, k)
			}
		}
		type plain CertRef
		var p plain
		if err := n.Decode(&p); err != nil {
			return err
		}
		*c = CertRef(p)
		return nil
	}
	return fmt.Errorf("line %d: a certificate is a string (PEM or file path) or a mapping", n.Line)
}

// MarshalYAML writes the short string form when there is no revocation.
func (c CertRef) MarshalYAML() (any, error) {
	if c.RevocationDate == nil && c.RevocationReason == "" {
		if c.PEM != "" && c.File == "" {
			return c.PEM, nil
		}
		if c.File != "" && c.PEM == "" {
			return c.File, nil
		}
	}
	type plain CertRef
	return plain(c), nil
}

// Parse reads a directory file's content. It checks the syntax only;
// references and certificates are resolved by New or Load.
func Parse(data []byte) (*File, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("dvdvfile: the file is empty")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("dvdvfile: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("dvdvfile: the file holds more than one YAML document")
	}
	if f.Version != FormatVersion {
		return nil, fmt.Errorf("dvdvfile: version %d is not supported (want version: %d)", f.Version, FormatVersion)
	}
	return &f, nil
}

// Marshal writes f as YAML.
func (f *File) Marshal() ([]byte, error) {
	if f.Version == 0 {
		f.Version = FormatVersion
	}
	var b bytes.Buffer
	b.WriteString("# xagw DVDV directory file (format: go doc github.com/xagw/xagw/dvdv/dvdvfile)\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile writes f to path atomically (a temporary file renamed into
// place), so a watching Directory never reads half a file.
func (f *File) WriteFile(path string) error {
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dirOf(path), ".dvdv-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
