package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// CRLSet is a RevocationChecker over certificate revocation lists. A CRL is
// used for a certificate only if it was issued by the certificate's issuer
// (name and signature checked) and is current (thisUpdate ≤ t ≤ nextUpdate).
// Without such a CRL the status is unknown and the check fails, unless
// AllowMissing is set.
type CRLSet struct {
	CRLs []*x509.RevocationList
	// AllowMissing accepts certificates whose issuer has no current CRL in
	// the set. Use only where another mechanism covers revocation.
	AllowMissing bool
}

// ParseCRLs parses CRLs in PEM ("X509 CRL" blocks) or a single DER CRL.
func ParseCRLs(data []byte) ([]*x509.RevocationList, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		crl, err := x509.ParseRevocationList(data)
		if err != nil {
			return nil, fmt.Errorf("keystore: DER CRL: %w", err)
		}
		return []*x509.RevocationList{crl}, nil
	}
	var out []*x509.RevocationList
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			continue
		}
		crl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keystore: PEM CRL %d: %w", len(out)+1, err)
		}
		out = append(out, crl)
	}
	if len(out) == 0 {
		return nil, errors.New("keystore: no X509 CRL block found")
	}
	return out, nil
}

// LoadCRLFile reads the CRLs in a PEM or DER file.
func LoadCRLFile(path string) ([]*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	crls, err := ParseCRLs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return crls, nil
}

// CheckRevocation implements RevocationChecker.
func (s *CRLSet) CheckRevocation(cert, issuer *x509.Certificate, at time.Time) error {
	var problems []string
	for _, crl := range s.CRLs {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
			continue
		}
		if err := checkCRLSignature(crl, issuer); err != nil {
			problems = append(problems, fmt.Sprintf("CRL %v: signature: %v", crl.Number, err))
			continue
		}
		if at.Before(crl.ThisUpdate) || (!crl.NextUpdate.IsZero() && at.After(crl.NextUpdate)) {
			problems = append(problems, fmt.Sprintf("CRL %v covers %s to %s, not %s", crl.Number,
				crl.ThisUpdate.UTC().Format(time.RFC3339), crl.NextUpdate.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339)))
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 && !e.RevocationTime.After(at) {
				return fmt.Errorf("%w on %s (CRL %v of %s)", ErrRevoked, e.RevocationTime.UTC().Format(time.RFC3339), crl.Number, issuer.Subject)
			}
		}
		return nil
	}
	if s.AllowMissing && len(problems) == 0 {
		return nil
	}
	if len(problems) > 0 {
		return fmt.Errorf("no usable CRL of %s: %v", issuer.Subject, problems)
	}
	return fmt.Errorf("no CRL of %s", issuer.Subject)
}
