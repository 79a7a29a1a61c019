package dvdvtest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Assertion is a verified client assertion.
type Assertion struct {
	Fingerprint string // of the client certificate that signed it
	ID          string // jti
	Expiry      time.Time
}

// Clock skew tolerated between client and server, and the longest
// assertion lifetime accepted.
const (
	assertionLeeway  = 30 * time.Second
	maxAssertionLife = time.Hour
)

// VerifyAssertion checks a token-endpoint client assertion the way the
// server should: a compact JWS with alg RS256 (nothing else, in particular
// not "none"), subject "fp:<SHA-1 fingerprint>" of a registered client
// certificate (lookup) whose key made the signature, issuer equal to the
// subject, audience equal to the token endpoint URL, a jti, and exp/iat/nbf
// that hold at now. It is written independently of the client's signer so
// that the two check each other.
func VerifyAssertion(jwt, audience string, now time.Time, lookup func(fingerprint string) *x509.Certificate) (*Assertion, error) {
	if len(jwt) > 16<<10 {
		return nil, errors.New("Client-Assertion zu lang")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("Client-Assertion ist kein JWT (drei Teile erwartet)")
	}
	dec := base64.RawURLEncoding
	hdrRaw, err := dec.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("JWT-Header nicht base64url: %v", err)
	}
	payRaw, err := dec.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("JWT-Payload nicht base64url: %v", err)
	}
	sig, err := dec.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("JWT-Signatur nicht base64url: %v", err)
	}
	var hdr struct {
		Alg  string `json:"alg"`
		Crit []any  `json:"crit"`
	}
	if err := strictJSON(hdrRaw, &hdr); err != nil {
		return nil, fmt.Errorf("JWT-Header: %v", err)
	}
	if hdr.Alg != "RS256" {
		return nil, fmt.Errorf("JWT-Algorithmus %q nicht erlaubt (RS256 erwartet)", hdr.Alg)
	}
	if len(hdr.Crit) > 0 {
		return nil, errors.New("JWT-Header 'crit' wird nicht unterstützt")
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp *json.Number    `json:"exp"`
		Iat *json.Number    `json:"iat"`
		Nbf *json.Number    `json:"nbf"`
		Jti string          `json:"jti"`
	}
	if err := strictJSON(payRaw, &claims); err != nil {
		return nil, fmt.Errorf("JWT-Payload: %v", err)
	}
	fp, ok := strings.CutPrefix(claims.Sub, "fp:")
	if !ok || len(fp) != 40 || strings.ToLower(fp) != fp {
		return nil, fmt.Errorf("subject %q hat nicht die Form fp:<Zertifikatsfingerprint>", clip(claims.Sub))
	}
	cert := lookup(fp)
	if cert == nil {
		return nil, fmt.Errorf("Kein passendes Client-Zertifikat gefunden für fingerprint %s", fp)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("Client-Zertifikat %s hat keinen RSA-Schlüssel", fp)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return nil, fmt.Errorf("Signatur der Client-Assertion passt nicht zum Client-Zertifikat %s", fp)
	}
	// Only a verified assertion gets its claims checked in detail.
	if claims.Iss != claims.Sub {
		return nil, fmt.Errorf("issuer %q ist nicht gleich subject", clip(claims.Iss))
	}
	if !audienceMatches(claims.Aud, audience) {
		return nil, fmt.Errorf("audience %s passt nicht zum Token-Endpunkt %s", clip(string(claims.Aud)), audience)
	}
	if claims.Jti == "" || len(claims.Jti) > 256 {
		return nil, errors.New("jti fehlt oder ist zu lang")
	}
	exp, err := unixTime(claims.Exp, "exp")
	if err != nil {
		return nil, err
	}
	if !now.Before(exp.Add(assertionLeeway)) {
		return nil, fmt.Errorf("Client-Assertion abgelaufen (exp %s)", exp.UTC().Format(time.RFC3339))
	}
	if exp.Sub(now) > maxAssertionLife {
		return nil, fmt.Errorf("Client-Assertion zu lange gültig (exp %s)", exp.UTC().Format(time.RFC3339))
	}
	for _, c := range []struct {
		v    *json.Number
		name string
	}{{claims.Iat, "iat"}, {claims.Nbf, "nbf"}} {
		if c.v == nil {
			continue
		}
		t, err := unixTime(c.v, c.name)
		if err != nil {
			return nil, err
		}
		if t.After(now.Add(assertionLeeway)) {
			return nil, fmt.Errorf("%s %s liegt in der Zukunft", c.name, t.UTC().Format(time.RFC3339))
		}
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("Client-Zertifikat %s ist nicht gültig", fp)
	}
	return &Assertion{Fingerprint: fp, ID: claims.Jti, Expiry: exp.Add(assertionLeeway)}, nil
}

func strictJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("Daten nach dem JSON-Objekt")
	}
	return nil
}

func audienceMatches(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}

func unixTime(n *json.Number, name string) (time.Time, error) {
	if n == nil {
		return time.Time{}, fmt.Errorf("%s fehlt", name)
	}
	v, err := n.Int64()
	if err != nil || v < 0 || v > 1<<40 {
		return time.Time{}, fmt.Errorf("%s %q ist keine Unix-Zeit", name, clip(n.String()))
	}
	return time.Unix(v, 0), nil
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
