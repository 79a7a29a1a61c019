package testpki

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xagw/xagw/osci/keystore"
)

// IndexFormat identifies the index.json layout.
const IndexFormat = "xagw-testpki/1"

// Index is the content of index.json.
type Index struct {
	Format        string    `json:"format"`
	ReferenceTime time.Time `json:"reference_time"`
	Deterministic bool      `json:"deterministic"`
	// PKCS12 says how .p12 files are protected ("modern-2023",
	// "legacy-3des") or "" if none were written. The PIN is never stored.
	PKCS12      string       `json:"pkcs12,omitempty"`
	TrustAnchor string       `json:"trust_anchor"`
	CAChain     string       `json:"ca_chain"`
	CRLs        []string     `json:"crls"`
	Entities    []IndexEntry `json:"entities"`
}

// IndexEntry describes one certificate.
type IndexEntry struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Usage     string    `json:"usage"`
	Status    string    `json:"status"`
	KeyType   string    `json:"key_type"`
	Subject   string    `json:"subject"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
	Cert      string    `json:"cert"`
	Key       string    `json:"key"`
	PKCS12    string    `json:"pkcs12,omitempty"`
}

// Index returns the index describing the PKI's files.
func (p *PKI) Index() Index {
	idx := Index{
		Format: IndexFormat, ReferenceTime: p.Now, Deterministic: p.Deterministic,
		TrustAnchor: RoleRootCA + ".cert.pem", CAChain: "ca-chain.pem",
		CRLs: []string{RoleRootCA + ".crl.pem", RoleIssuingCA + ".crl.pem"},
	}
	if p.pin != nil {
		idx.PKCS12 = "modern-2023"
		if p.legacyPKCS12 {
			idx.PKCS12 = "legacy-3des"
		}
	}
	for _, e := range p.all() {
		ie := IndexEntry{
			Name: e.Name, Role: e.Role, Usage: e.Usage, Status: e.Status, KeyType: e.KeyType,
			Subject: e.Certificate.Subject.String(), Serial: hex.EncodeToString(e.Certificate.SerialNumber.Bytes()),
			NotBefore: e.Certificate.NotBefore.UTC(), NotAfter: e.Certificate.NotAfter.UTC(),
			SHA256: fingerprint(e.Certificate.Raw), Cert: e.Name + ".cert.pem", Key: e.Name + ".key.pem",
		}
		if p.pin != nil && e.Usage != UsageCA {
			ie.PKCS12 = e.Name + ".p12"
		}
		idx.Entities = append(idx.Entities, ie)
	}
	return idx
}

// WriteDir writes the PKI into dir (created if missing; existing files of
// the same names are replaced): per entity NAME.cert.pem, NAME.key.pem
// (unencrypted PKCS#8, mode 0600) and, with a PIN, NAME.p12; ca-chain.pem;
// one CRL per CA; index.json.
func (p *PKI) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	write := func(name string, data []byte, mode os.FileMode) error {
		if err := writeFileMode(filepath.Join(dir, name), data, mode); err != nil {
			return fmt.Errorf("testpki: %w", err)
		}
		return nil
	}
	idx := p.Index()
	for i, e := range p.all() {
		ie := idx.Entities[i]
		if err := write(ie.Cert, certPEM(e.Certificate), 0o644); err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(e.Key)
		if err != nil {
			return fmt.Errorf("testpki: %s key: %w", e.Name, err)
		}
		if err := write(ie.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
		if ie.PKCS12 != "" {
			data, err := p.pkcs12For(e)
			if err != nil {
				return fmt.Errorf("testpki: %s PKCS#12: %w", e.Name, err)
			}
			if err := write(ie.PKCS12, data, 0o600); err != nil {
				return err
			}
		}
	}
	if err := write(idx.CAChain, append(certPEM(p.IssuingCA.Certificate), certPEM(p.Root.Certificate)...), 0o644); err != nil {
		return err
	}
	for i, c := range []*x509.RevocationList{p.RootCRL, p.IssuingCRL} {
		if err := write(idx.CRLs[i], pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.Raw}), 0o644); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return write("index.json", append(js, '\n'), 0o644)
}

// writeFileMode replaces path with data at exactly mode. os.WriteFile sets
// the mode only when it creates the file, so rewriting a key file that an
// earlier run (or a user) left group-readable would keep it readable; the
// data is written to a new file created 0600 and renamed over the old one,
// so a key is never readable by others, not even for a moment.
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Load reads a directory written by WriteDir (PEM files; no PIN needed)
// and checks each certificate against the index.
func Load(dir string) (*PKI, error) {
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("testpki: index.json: %w", err)
	}
	if idx.Format != IndexFormat {
		return nil, fmt.Errorf("testpki: index.json format %q, want %q", idx.Format, IndexFormat)
	}
	p := &PKI{Now: idx.ReferenceTime, Deterministic: idx.Deterministic}
	for _, ie := range idx.Entities {
		id, err := keystore.LoadPEMFiles(filepath.Join(dir, ie.Cert), filepath.Join(dir, ie.Key))
		if err != nil {
			return nil, err
		}
		if fingerprint(id.Certificate.Raw) != ie.SHA256 {
			return nil, fmt.Errorf("testpki: %s does not match its index entry", ie.Cert)
		}
		e := &Entity{Name: ie.Name, Role: ie.Role, Usage: ie.Usage, Status: ie.Status, KeyType: ie.KeyType, Certificate: id.Certificate, Key: id.Key}
		switch ie.Role {
		case RoleRootCA:
			p.Root = e
		case RoleIssuingCA:
			p.IssuingCA = e
		default:
			p.Entities = append(p.Entities, e)
		}
	}
	if p.Root == nil || p.IssuingCA == nil {
		return nil, errors.New("testpki: index lacks the root or the issuing CA")
	}
	p.IssuingCA.Chain = []*x509.Certificate{p.Root.Certificate}
	for _, e := range p.Entities {
		e.Chain = []*x509.Certificate{p.IssuingCA.Certificate, p.Root.Certificate}
	}
	var crls []*x509.RevocationList
	for _, name := range idx.CRLs {
		c, err := keystore.LoadCRLFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		crls = append(crls, c...)
	}
	for _, c := range crls {
		switch {
		case bytes.Equal(c.RawIssuer, p.Root.Certificate.RawSubject):
			p.RootCRL = c
		case bytes.Equal(c.RawIssuer, p.IssuingCA.Certificate.RawSubject):
			p.IssuingCRL = c
		}
	}
	if p.RootCRL == nil || p.IssuingCRL == nil {
		return nil, errors.New("testpki: CRL of the root or the issuing CA missing")
	}
	return p, nil
}
