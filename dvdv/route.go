package dvdv

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Directory answers "where and how do I deliver service serviceURI to
// organisation org?". Implementations: *Client (DVDV2 REST) and
// dvdvfile.Directory (a local file).
//
// Lookup returns a Route whose certificates are all usable now, or an error
// wrapping one of the Err* kinds: IsNegative errors mean the directory has no
// usable route (do not retry until the directory's data changes),
// IsTemporary errors mean it could not be asked.
type Directory interface {
	Lookup(ctx context.Context, org OrgKey, serviceURI string) (*Route, error)
}

// Scenario is the OSCI delivery scenario a service expects. The DVDV does not
// publish it; it comes from configuration (Config.Scenarios) or from the file
// directory's optional field.
type Scenario string

// OSCI scenarios.
const (
	// ScenarioUnspecified: the directory does not say.
	ScenarioUnspecified Scenario = ""
	// ScenarioStore: storeDelivery into the addressee's mailbox at the
	// intermediary; the addressee fetches it (XAusländer case systems work so).
	ScenarioStore Scenario = "store"
	// ScenarioForward: forwardDelivery; the intermediary passes it on to the
	// passive addressee (acceptDelivery).
	ScenarioForward Scenario = "forward"
	// ScenarioMediate: mediateDelivery; synchronous request/response through
	// the intermediary (processDelivery).
	ScenarioMediate Scenario = "mediate"
)

// ParseScenario accepts "", "store", "forward" and "mediate" (and the OSCI
// message names storeDelivery, forwardDelivery, mediateDelivery).
func ParseScenario(s string) (Scenario, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return ScenarioUnspecified, nil
	case "store", "storedelivery":
		return ScenarioStore, nil
	case "forward", "forwarddelivery":
		return ScenarioForward, nil
	case "mediate", "mediatedelivery":
		return ScenarioMediate, nil
	}
	return "", fmt.Errorf("dvdv: unknown OSCI scenario %q (want store, forward or mediate)", s)
}

// Route is everything needed to send an OSCI message for one service of one
// organisation. Routes handed out by a Directory may be shared between
// callers and must not be modified.
type Route struct {
	Organization     OrgKey
	OrganizationName string
	ServiceURI       string

	// IntermediaryURL is where OSCI messages are posted.
	IntermediaryURL string
	// IntermediaryCipherCert encrypts the transport envelope for the
	// intermediary.
	IntermediaryCipherCert *x509.Certificate
	// IntermediarySignatureCert verifies the intermediary's signatures; nil
	// when the directory publishes none.
	IntermediarySignatureCert *x509.Certificate

	// AddresseeURI is the OSCI_ADDRESSEE element's URI; may be empty.
	AddresseeURI string
	// AddresseeCipherCert encrypts content for the addressee.
	AddresseeCipherCert *x509.Certificate
	// AddresseeSignatureCert verifies the addressee's signatures (replies);
	// nil when the directory publishes no usable one (see Warnings).
	AddresseeSignatureCert *x509.Certificate

	// ValidFrom and ValidUntil bound the window in which the service and all
	// chosen certificates are valid. A zero ValidUntil means open-ended.
	ValidFrom  time.Time
	ValidUntil time.Time

	// Scenario is the OSCI scenario, if known.
	Scenario Scenario
	// Source names where the route came from ("dvdv https://…", "file …").
	Source string
	// Service is the raw service description.
	Service *Service
	// Warnings lists things a careful operator wants to know that did not
	// prevent the route (e.g. a revoked signature certificate skipped).
	Warnings []string

	// recheckAt: see RecheckAt.
	recheckAt time.Time
}

// RecheckAt returns the earliest moment at which building the route again
// from the same service description could answer differently: the end of
// the service's validity, the start or end of validity of any certificate
// published for the route (chosen or passed over, so that a rollover
// certificate becoming valid is picked up), and, with trust anchors, the end
// of validity of any certificate of a chain that anchored a chosen one. A
// cache may hand the route out strictly before this moment (and not before
// the moment it was built); it is never later than ValidUntil. Zero for a
// Route not built by RouteFromServiceOptions: do not keep it.
//
// Not covered: a certificate refused because it did not chain to the trust
// anchors may chain later (an intermediate certificate becoming valid);
// caches also bound how long they keep a route by a TTL, which bounds that.
func (r *Route) RecheckAt() time.Time { return r.recheckAt }

// horizon collects the moments, at or after now, at which a route's
// answer could change, and keeps the earliest.
type horizon struct {
	now, at time.Time
}

func (h *horizon) add(t time.Time) {
	if t.IsZero() || t.Before(h.now) {
		return
	}
	if h.at.IsZero() || t.Before(h.at) {
		h.at = t
	}
}

// ValidAt reports whether the route may be used at t.
func (r *Route) ValidAt(t time.Time) bool {
	if t.Before(r.ValidFrom) {
		return false
	}
	return r.ValidUntil.IsZero() || t.Before(r.ValidUntil)
}

// RouteFromService extracts a route from a service description as of now.
// It checks the service's validity window and every certificate it uses, and
// picks, where several certificates are published for one role (key
// rollover), the usable one issued last.
//
// Service elements read: OSCI_INTERMEDIARY (serviceElementUri = intermediary
// URL, cipherCertificate, optional signatureCertificate), OSCI_ADDRESSEE
// (serviceElementUri = addressee URI; its cipher/signature certificates if
// set there), CIPHER_CERTIFICATE and SIGNATURE_CERTIFICATE elements (further
// addressee certificates).
func RouteFromService(org OrgKey, serviceURI string, svc *Service, now time.Time) (*Route, error) {
	return RouteFromServiceOptions(org, serviceURI, svc, now, RouteOptions{})
}

// RouteOptions tighten the certificate checks of RouteFromServiceOptions.
type RouteOptions struct {
	// Roots, when set, must anchor every certificate of the route: a
	// certificate that does not chain to one of them (through Intermediates
	// or the roots themselves) at the time of the lookup is unusable. This
	// guards against a directory entry carrying a certificate from outside
	// the administration PKI.
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
}

// RouteFromServiceOptions is RouteFromService with stricter checks.
func RouteFromServiceOptions(org OrgKey, serviceURI string, svc *Service, now time.Time, opts RouteOptions) (*Route, error) {
	fail := func(kind error, reason string, cause error) error {
		return &Error{Op: "route", Kind: kind, Organization: org.String(), ServiceURI: serviceURI, Reason: reason, Err: cause}
	}
	if svc == nil {
		return nil, fail(ErrNoService, "the directory returned no service", nil)
	}
	if got := svc.ServiceSpecificationURI; got != "" && serviceURI != "" && got != serviceURI {
		return nil, fail(ErrMalformedResponse, fmt.Sprintf("the directory answered with service %q", clip(got, 200)), nil)
	}
	if !svc.ValidFrom.IsZero() && now.Before(svc.ValidFrom.Time) {
		return nil, fail(ErrNoService, "the service becomes valid only on "+svc.ValidFrom.UTC().Format(time.RFC3339), nil)
	}
	if !svc.ValidTo.IsZero() && !now.Before(svc.ValidTo.Time) {
		return nil, fail(ErrNoService, "the service expired on "+svc.ValidTo.UTC().Format(time.RFC3339), nil)
	}

	r := &Route{
		Organization:     org,
		OrganizationName: svc.OrganizationNameDe,
		ServiceURI:       serviceURI,
		Service:          svc,
		ValidFrom:        svc.ValidFrom.Time,
		ValidUntil:       svc.ValidTo.Time,
	}
	if r.ServiceURI == "" {
		r.ServiceURI = svc.ServiceSpecificationURI
	}
	h := &horizon{now: now}
	h.add(svc.ValidTo.Time)

	var inter, addr *ServiceElement
	var addrCipher, addrSig []candidate
	for i := range svc.ServiceElements {
		el := &svc.ServiceElements[i]
		where := fmt.Sprintf("serviceElements[%d] (%s)", i, el.Type)
		switch el.Type {
		case ElementIntermediary:
			if inter == nil {
				inter = el
			}
		case ElementAddressee:
			if addr == nil {
				addr = el
				if el.CipherCertificate != nil {
					addrCipher = append(addrCipher, candidate{el.CipherCertificate, where + ".cipherCertificate"})
				}
				if el.SignatureCertificate != nil {
					addrSig = append(addrSig, candidate{el.SignatureCertificate, where + ".signatureCertificate"})
				}
			}
		case ElementCipherCertificate:
			if el.CipherCertificate != nil {
				addrCipher = append(addrCipher, candidate{el.CipherCertificate, where + ".cipherCertificate"})
			}
		case ElementSignatureCertificate:
			// Some entries carry the certificate in the "wrong" field; the
			// element type says what it is for.
			if el.SignatureCertificate != nil {
				addrSig = append(addrSig, candidate{el.SignatureCertificate, where + ".signatureCertificate"})
			} else if el.CipherCertificate != nil {
				addrSig = append(addrSig, candidate{el.CipherCertificate, where + ".cipherCertificate"})
			}
		}
	}

	if inter == nil {
		return nil, fail(ErrIncompleteService, "the service has no OSCI intermediary (no OSCI_INTERMEDIARY element)", nil)
	}
	u, err := url.Parse(strings.TrimSpace(inter.URI))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fail(ErrIncompleteService, fmt.Sprintf("the OSCI intermediary's URL %q is not an absolute http(s) URL", clip(inter.URI, 200)), nil)
	}
	r.IntermediaryURL = u.String()
	if inter.CipherCertificate == nil {
		return nil, fail(ErrIncompleteService, "the OSCI intermediary has no cipher certificate", nil)
	}
	cert, rec, err := pickCertificate([]candidate{{inter.CipherCertificate, "OSCI_INTERMEDIARY.cipherCertificate"}}, now, opts, h)
	if err != nil {
		return nil, fail(ErrNoUsableCertificate, "intermediary cipher certificate", err)
	}
	r.IntermediaryCipherCert = cert
	r.narrow(rec, cert)
	if inter.SignatureCertificate != nil {
		cert, rec, err := pickCertificate([]candidate{{inter.SignatureCertificate, "OSCI_INTERMEDIARY.signatureCertificate"}}, now, opts, h)
		if err != nil {
			r.Warnings = append(r.Warnings, "intermediary signature certificate skipped: "+err.Error())
		} else {
			r.IntermediarySignatureCert = cert
			r.narrow(rec, cert)
		}
	}

	if addr != nil {
		r.AddresseeURI = strings.TrimSpace(addr.URI)
	}
	if len(addrCipher) == 0 {
		return nil, fail(ErrIncompleteService, "the service publishes no cipher certificate for the addressee (OSCI_ADDRESSEE or CIPHER_CERTIFICATE element)", nil)
	}
	cert, rec, err = pickCertificate(addrCipher, now, opts, h)
	if err != nil {
		return nil, fail(ErrNoUsableCertificate, "addressee cipher certificate", err)
	}
	r.AddresseeCipherCert = cert
	r.narrow(rec, cert)
	if len(addrSig) > 0 {
		cert, rec, err := pickCertificate(addrSig, now, opts, h)
		if err != nil {
			r.Warnings = append(r.Warnings, "addressee signature certificate skipped: "+err.Error())
		} else {
			r.AddresseeSignatureCert = cert
			r.narrow(rec, cert)
		}
	}
	r.recheckAt = h.at
	return r, nil
}

// narrow shrinks the route's window to the certificate's.
func (r *Route) narrow(rec *Certificate, cert *x509.Certificate) {
	if from := rec.validFrom(cert); from.After(r.ValidFrom) {
		r.ValidFrom = from
	}
	if until := rec.validUntil(cert); r.ValidUntil.IsZero() || until.Before(r.ValidUntil) {
		r.ValidUntil = until
	}
}

type candidate struct {
	rec   *Certificate
	where string
}

// pickCertificate returns the usable candidate issued last, or an error that
// lists why each candidate was rejected and wraps the reasons. It adds to h
// every moment at which a candidate's verdict changes.
func pickCertificate(cands []candidate, now time.Time, opts RouteOptions, h *horizon) (*x509.Certificate, *Certificate, error) {
	var best *x509.Certificate
	var bestRec *Certificate
	var reasons []string
	var errs []error
	for _, c := range cands {
		cert, err := c.rec.check(now)
		if cert != nil {
			h.add(c.rec.validFrom(cert))
			h.add(c.rec.validUntil(cert))
		}
		if err == nil && opts.Roots != nil {
			chains, verr := cert.Verify(x509.VerifyOptions{Roots: opts.Roots, Intermediates: opts.Intermediates,
				CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if verr != nil {
				err = fmt.Errorf("%w: %s does not chain to the configured trust anchors: %v", ErrCertificateInvalid, c.rec.describeX509(cert), verr)
			}
			for _, chain := range chains {
				for _, cc := range chain {
					h.add(cc.NotAfter)
				}
			}
		}
		if err != nil {
			reasons = append(reasons, c.where+": "+err.Error())
			errs = append(errs, err)
			continue
		}
		if best == nil || c.rec.validFrom(cert).After(bestRec.validFrom(best)) {
			best, bestRec = cert, c.rec
		}
	}
	if best == nil {
		return nil, nil, &multiReason{text: strings.Join(reasons, "; "), errs: errs}
	}
	return best, bestRec, nil
}

// multiReason joins rejection reasons into one readable line while keeping
// each wrapped error reachable by errors.Is.
type multiReason struct {
	text string
	errs []error
}

func (m *multiReason) Error() string   { return m.text }
func (m *multiReason) Unwrap() []error { return m.errs }

// routeJSON is the JSON form of a Route (for `xagw dvdv lookup --json` and
// admin APIs).
type routeJSON struct {
	Organization              string     `json:"organization"`
	OrganizationName          string     `json:"organizationName,omitempty"`
	ServiceURI                string     `json:"serviceUri"`
	IntermediaryURL           string     `json:"intermediaryUrl"`
	IntermediaryCipherCert    *certJSON  `json:"intermediaryCipherCertificate"`
	IntermediarySignatureCert *certJSON  `json:"intermediarySignatureCertificate,omitempty"`
	AddresseeURI              string     `json:"addresseeUri,omitempty"`
	AddresseeCipherCert       *certJSON  `json:"addresseeCipherCertificate"`
	AddresseeSignatureCert    *certJSON  `json:"addresseeSignatureCertificate,omitempty"`
	ValidFrom                 *time.Time `json:"validFrom,omitempty"`
	ValidUntil                *time.Time `json:"validUntil,omitempty"`
	Scenario                  Scenario   `json:"scenario,omitempty"`
	Source                    string     `json:"source,omitempty"`
	Warnings                  []string   `json:"warnings,omitempty"`
	Service                   *Service   `json:"service,omitempty"`
}

type certJSON struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"sha1Fingerprint"`
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
	PEM         string    `json:"pem"`
}

func certToJSON(c *x509.Certificate) *certJSON {
	if c == nil {
		return nil
	}
	return &certJSON{
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		Serial:      c.SerialNumber.String(),
		Fingerprint: Fingerprint(c),
		NotBefore:   c.NotBefore.UTC(),
		NotAfter:    c.NotAfter.UTC(),
		PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
	}
}

// MarshalJSON renders the route with certificates as subject, issuer,
// serial, SHA-1 fingerprint, validity and PEM.
func (r *Route) MarshalJSON() ([]byte, error) {
	j := routeJSON{
		Organization:              r.Organization.String(),
		OrganizationName:          r.OrganizationName,
		ServiceURI:                r.ServiceURI,
		IntermediaryURL:           r.IntermediaryURL,
		IntermediaryCipherCert:    certToJSON(r.IntermediaryCipherCert),
		IntermediarySignatureCert: certToJSON(r.IntermediarySignatureCert),
		AddresseeURI:              r.AddresseeURI,
		AddresseeCipherCert:       certToJSON(r.AddresseeCipherCert),
		AddresseeSignatureCert:    certToJSON(r.AddresseeSignatureCert),
		Scenario:                  r.Scenario,
		Source:                    r.Source,
		Warnings:                  r.Warnings,
		Service:                   r.Service,
	}
	if !r.ValidFrom.IsZero() {
		t := r.ValidFrom.UTC()
		j.ValidFrom = &t
	}
	if !r.ValidUntil.IsZero() {
		t := r.ValidUntil.UTC()
		j.ValidUntil = &t
	}
	return json.Marshal(j)
}
