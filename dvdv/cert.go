package dvdv

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Fingerprint returns the SHA-1 fingerprint of cert in lower-case hex, the
// form the directory uses to identify certificates (and the "fp:" subject of
// the token request).
func Fingerprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// NormalizeFingerprint turns "AB:CD:…" or upper-case hex into the directory's
// lower-case form without separators.
func NormalizeFingerprint(fp string) string {
	fp = strings.ToLower(strings.TrimSpace(fp))
	return strings.NewReplacer(":", "", " ", "").Replace(fp)
}

func isSHA1Hex(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// X509 decodes and parses the certificate content (base64 DER; a PEM block
// and embedded line breaks are tolerated).
func (c *Certificate) X509() (*x509.Certificate, error) {
	content := strings.TrimSpace(c.Content)
	if content == "" {
		return nil, errors.New("the record has no certificate content")
	}
	var der []byte
	if strings.HasPrefix(content, "-----BEGIN") {
		block, _ := pem.Decode([]byte(content))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, errors.New("content is PEM but holds no CERTIFICATE block")
		}
		der = block.Bytes
	} else {
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, content)
		var err error
		der, err = base64.StdEncoding.DecodeString(clean)
		if err != nil {
			return nil, fmt.Errorf("content is not base64: %v", err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("content is not an X.509 certificate: %v", err)
	}
	return cert, nil
}

// Revoked reports whether the directory marks the certificate as revoked.
// Any revocation entry counts, including CERTIFICATE_HOLD and even
// REMOVE_FROM_CRL: a record that still carries revocation data is not trusted
// until the directory clears it.
func (c *Certificate) Revoked() bool {
	return !c.RevocationDate.IsZero() || c.RevocationReason != ""
}

// Check returns the parsed certificate if it may be used at now, and
// otherwise an error wrapping ErrCertificateRevoked, ErrCertificateExpired or
// ErrCertificateInvalid that says why.
func (c *Certificate) Check(now time.Time) (*x509.Certificate, error) {
	cert, err := c.check(now)
	if err != nil {
		return nil, err
	}
	return cert, nil
}

// check is Check that also returns the parsed certificate when it is refused
// only for its validity window, so that route building can tell when the
// verdict changes.
func (c *Certificate) check(now time.Time) (*x509.Certificate, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrCertificateInvalid)
	}
	if c.Revoked() {
		var parts []string
		if !c.RevocationDate.IsZero() {
			parts = append(parts, "on "+c.RevocationDate.UTC().Format(time.RFC3339))
		}
		if c.RevocationReason != "" {
			parts = append(parts, "reason "+c.RevocationReason)
		}
		return nil, fmt.Errorf("%w %s (%s)", ErrCertificateRevoked, strings.Join(parts, ", "), c.describe())
	}
	cert, err := c.X509()
	if err != nil {
		return nil, fmt.Errorf("%w: %v (%s)", ErrCertificateInvalid, err, c.describe())
	}
	if c.Fingerprint != "" {
		want := NormalizeFingerprint(c.Fingerprint)
		if got := Fingerprint(cert); want != got {
			return nil, fmt.Errorf("%w: published fingerprint %s does not match the content's SHA-1 %s", ErrCertificateInvalid, clip(c.Fingerprint, 60), got)
		}
	}
	from, to := cert.NotBefore, cert.NotAfter
	if !c.ValidFrom.IsZero() && c.ValidFrom.After(from) {
		from = c.ValidFrom.Time
	}
	if !c.ValidTo.IsZero() && c.ValidTo.Before(to) {
		to = c.ValidTo.Time
	}
	if now.Before(from) {
		return cert, fmt.Errorf("%w: valid only from %s (%s)", ErrCertificateExpired, from.UTC().Format(time.RFC3339), c.describeX509(cert))
	}
	if now.After(to) {
		return cert, fmt.Errorf("%w: expired on %s (%s)", ErrCertificateExpired, to.UTC().Format(time.RFC3339), c.describeX509(cert))
	}
	return cert, nil
}

// validUntil is the end of the certificate's usable window: the earlier of
// the directory's validTo and the X.509 NotAfter.
func (c *Certificate) validUntil(cert *x509.Certificate) time.Time {
	to := cert.NotAfter
	if !c.ValidTo.IsZero() && c.ValidTo.Before(to) {
		to = c.ValidTo.Time
	}
	return to
}

func (c *Certificate) validFrom(cert *x509.Certificate) time.Time {
	from := cert.NotBefore
	if !c.ValidFrom.IsZero() && c.ValidFrom.After(from) {
		from = c.ValidFrom.Time
	}
	return from
}

func (c *Certificate) describe() string {
	var parts []string
	if c.NameSubject != "" {
		parts = append(parts, "subject "+clip(c.NameSubject, 80))
	}
	if c.Fingerprint != "" {
		parts = append(parts, "fingerprint "+clip(c.Fingerprint, 60))
	}
	if len(parts) == 0 {
		return "unnamed certificate"
	}
	return strings.Join(parts, ", ")
}

func (c *Certificate) describeX509(cert *x509.Certificate) string {
	return fmt.Sprintf("subject %q, fingerprint %s", clip(cert.Subject.CommonName, 80), Fingerprint(cert))
}

// CertificateFromX509 builds the directory record of cert, filled the way the
// DVDV fills it. The file directory and the fake server use it.
func CertificateFromX509(cert *x509.Certificate) Certificate {
	c := Certificate{
		Content:     base64.StdEncoding.EncodeToString(cert.Raw),
		Fingerprint: Fingerprint(cert),
		Serial:      cert.SerialNumber.String(),
		SerialHex:   cert.SerialNumber.Text(16),
		Algorithm:   javaAlgorithmName(cert.SignatureAlgorithm),
		NameIssuer:  cert.Issuer.CommonName,
		NameSubject: cert.Subject.CommonName,
		ValidFrom:   Instant{cert.NotBefore},
		ValidTo:     Instant{cert.NotAfter},
	}
	if len(cert.EmailAddresses) > 0 {
		c.EmailSubject = cert.EmailAddresses[0]
	}
	if len(cert.Issuer.Organization) > 0 {
		c.OrganizationIssuer = cert.Issuer.Organization[0]
	}
	if len(cert.Subject.Organization) > 0 {
		c.OrganizationSubject = cert.Subject.Organization[0]
	}
	if len(cert.Issuer.OrganizationalUnit) > 0 {
		c.OUIssuer = cert.Issuer.OrganizationalUnit[0]
	}
	if len(cert.Subject.OrganizationalUnit) > 0 {
		c.OUSubject = cert.Subject.OrganizationalUnit[0]
	}
	if cert.KeyUsage != 0 {
		// Go numbers KeyUsage bits in RFC 5280 order (digitalSignature = 1),
		// which is the bit map the API documents.
		ku := int(cert.KeyUsage)
		c.X509KeyUsage = &ku
	}
	return c
}

func javaAlgorithmName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.SHA256WithRSA:
		return "SHA256withRSA"
	case x509.SHA384WithRSA:
		return "SHA384withRSA"
	case x509.SHA512WithRSA:
		return "SHA512withRSA"
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return "RSASSA-PSS"
	case x509.ECDSAWithSHA256:
		return "SHA256withECDSA"
	case x509.ECDSAWithSHA384:
		return "SHA384withECDSA"
	case x509.ECDSAWithSHA512:
		return "SHA512withECDSA"
	}
	return a.String()
}
