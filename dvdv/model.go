package dvdv

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The types below mirror the JSON schemas of the DVDV2 API v2 (components/
// schemas in dvdv2-api-v2.yaml). Field names follow the wire names; every
// nullable field decodes null into its zero value.

// Instant is a DVDV timestamp. The directory writes
// "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'" and null for an open end; the zero Instant
// stands for null.
type Instant struct{ time.Time }

// At returns t as an Instant.
func At(t time.Time) Instant { return Instant{t} }

const instantLayout = "2006-01-02T15:04:05.000Z"

// Layouts accepted from the wire, most specific first: the documented one
// with and without numeric zone, RFC 3339 with any fraction, and the
// zone-less form some Java serialisers produce (taken as UTC).
var instantLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// ParseInstant parses a DVDV timestamp.
func ParseInstant(s string) (Instant, error) {
	for _, layout := range instantLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return Instant{t}, nil
		}
	}
	return Instant{}, fmt.Errorf("timestamp %q is not in the form yyyy-MM-ddTHH:mm:ss.SSSZ", clip(s, 40))
}

// MarshalJSON writes null for the zero Instant, else the documented format in UTC.
func (t Instant) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(instantLayout) + `"`), nil
}

// UnmarshalJSON accepts null, "" and the layouts of ParseInstant.
func (t *Instant) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Instant{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: want a string or null, got %s", clip(string(b), 40))
	}
	if s == "" {
		*t = Instant{}
		return nil
	}
	p, err := ParseInstant(s)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// Certificate is the directory's record of an X.509 certificate.
type Certificate struct {
	// Content is the DER certificate, base64-encoded.
	Content string `json:"content,omitempty"`
	// Fingerprint is the SHA-1 fingerprint in lower-case hex (40 digits).
	Fingerprint         string  `json:"fingerprint,omitempty"`
	Serial              string  `json:"serial,omitempty"`
	SerialHex           string  `json:"serialHex,omitempty"`
	EmailSubject        string  `json:"emailSubject,omitempty"`
	Algorithm           string  `json:"algorithm,omitempty"`
	NameIssuer          string  `json:"nameIssuer,omitempty"`
	NameSubject         string  `json:"nameSubject,omitempty"`
	OrganizationIssuer  string  `json:"organizationIssuer,omitempty"`
	OrganizationSubject string  `json:"organizationSubject,omitempty"`
	OUIssuer            string  `json:"ouIssuer,omitempty"`
	OUSubject           string  `json:"ouSubject,omitempty"`
	ValidFrom           Instant `json:"validFrom"`
	ValidTo             Instant `json:"validTo"`
	// X509KeyUsage is the KeyUsage bit map (RFC 5280), nil when the
	// certificate has no KeyUsage extension.
	X509KeyUsage *int `json:"x509KeyUsage,omitempty"`
	// RevocationDate and RevocationReason are set once the certificate is on
	// a CRL. Either one makes the certificate unusable.
	RevocationDate   Instant `json:"revocationDate"`
	RevocationReason string  `json:"revocationReason,omitempty"`
}

// ElementType is the type of a service element (serviceElementType).
type ElementType string

// Service element types of the API.
const (
	ElementIntermediary         ElementType = "OSCI_INTERMEDIARY"
	ElementAddressee            ElementType = "OSCI_ADDRESSEE"
	ElementCipherCertificate    ElementType = "CIPHER_CERTIFICATE"
	ElementSignatureCertificate ElementType = "SIGNATURE_CERTIFICATE"
	ElementWebServer            ElementType = "WEBSERVER"
	ElementText                 ElementType = "TEXT"
)

// ServiceElement is one connection parameter of a service (ServiceElementInfo).
type ServiceElement struct {
	Name                 string       `json:"serviceElementName,omitempty"`
	Description          string       `json:"serviceElementDescription,omitempty"`
	DescriptionName      string       `json:"serviceElementDescriptionName,omitempty"`
	Type                 ElementType  `json:"serviceElementType,omitempty"`
	CustomType           string       `json:"customServiceElementType,omitempty"`
	Text                 string       `json:"serviceElementText,omitempty"`
	URI                  string       `json:"serviceElementUri,omitempty"`
	CipherCertificate    *Certificate `json:"cipherCertificate"`
	SignatureCertificate *Certificate `json:"signatureCertificate"`
	Required             bool         `json:"required"`
	ID                   int64        `json:"serviceElementId"`
	ProviderID           int64        `json:"providerId"`
	ProviderNameDe       string       `json:"providerNameDe,omitempty"`
	ProviderNameEn       string       `json:"providerNameEn,omitempty"`
}

// ServiceBase is a service without its elements (ServiceBase).
type ServiceBase struct {
	ID            int64   `json:"id"`
	ValidFrom     Instant `json:"validFrom"`
	ValidTo       Instant `json:"validTo"`
	NameDe        string  `json:"nameDe,omitempty"`
	NameEn        string  `json:"nameEn,omitempty"`
	DescriptionDe string  `json:"descriptionDe,omitempty"`
	DescriptionEn string  `json:"descriptionEn,omitempty"`
	DVDV1UUID     string  `json:"dvdv1Uuid,omitempty"`
	// ServiceDescriptionName names the service description (for XAusländer
	// e.g. xauslaender1211OZGPORTALABH).
	ServiceDescriptionName string `json:"serviceDescriptionName"`
	// ServiceSpecificationType is WSDL_OSCI or MANUAL.
	ServiceSpecificationType string `json:"serviceSpecificationType,omitempty"`
	ServiceSpecificationURI  string `json:"serviceSpecificationUri"`
}

// Service is a service with all its connection parameters (Service), the
// answer of findservicedescription.
type Service struct {
	ServiceBase
	// ServiceSpecificationDocument is the WSDL, if the directory holds one.
	ServiceSpecificationDocument string           `json:"serviceSpecificationDocument,omitempty"`
	OrganizationNameDe           string           `json:"organizationNameDe,omitempty"`
	OrganizationNameEn           string           `json:"organizationNameEn,omitempty"`
	LocationStateID              int64            `json:"locationStateId,omitempty"`
	ServiceElements              []ServiceElement `json:"serviceElements"`
}

// Organization is an organisation (Organization; the lightweight form of
// findOrganizationsByServiceElement has no certificates and services).
type Organization struct {
	ID                 int64         `json:"id"`
	ValidFrom          Instant       `json:"validFrom"`
	ValidTo            Instant       `json:"validTo"`
	NameDe             string        `json:"nameDe"`
	NameEn             string        `json:"nameEn,omitempty"`
	DescriptionDe      string        `json:"descriptionDe,omitempty"`
	DescriptionEn      string        `json:"descriptionEn,omitempty"`
	PostalAddress      string        `json:"postalAddress,omitempty"`
	LocationStateID    int64         `json:"locationStateId,omitempty"`
	DVDV1ID            string        `json:"dvdv1Id,omitempty"`
	Category           string        `json:"category"`
	OrganizationKeys   []string      `json:"organizationKeys"`
	ClientCertificates []Certificate `json:"clientCertificates,omitempty"`
	Services           []ServiceBase `json:"services,omitempty"`
}

// OrganizationDescription is an organisation with its representatives
// (Stellvertreter), the answer of findauthoritydescription.
type OrganizationDescription struct {
	Organization    Organization   `json:"organization"`
	Representatives []Organization `json:"representatives"`
}

// Category is a node of the organisation category tree (the four
// DirectoryOrganizationCategoryLevelNDTO schemas).
type Category struct {
	Name string `json:"name"`
	// Prefix is the organisation-key prefix of the category, if it has one.
	Prefix   string     `json:"prefix,omitempty"`
	Children []Category `json:"children,omitempty"`
}

// IntermediarySummary is one entry of the intermediaries query
// (SummaryServiceElementDTO).
type IntermediarySummary struct {
	ID              int64  `json:"id"`
	OrgaProvID      int64  `json:"orgaProvId,omitempty"`
	Provider        bool   `json:"provider"`
	OrgaProvName    string `json:"orgaProvName,omitempty"`
	OrgaProvAddress string `json:"orgaProvAddress,omitempty"`
	SelName         string `json:"selName,omitempty"`
	SelDescription  string `json:"selDescription,omitempty"`
	URI             string `json:"uri,omitempty"`
}

// ServerVersion is the answer of the version query.
type ServerVersion struct {
	Version       string `json:"version,omitempty"`
	BuildNumber   string `json:"buildnumber,omitempty"`
	SchemaVersion string `json:"schemaversion,omitempty"`
}

// ParameterType says what Request.ParameterValue means in
// findOrganizationsByServiceElement.
type ParameterType string

// Parameter types of findOrganizationsByServiceElement.
const (
	ParameterCipherCertificate    ParameterType = "CIPHER_CERTIFICATE"
	ParameterSignatureCertificate ParameterType = "SIGNATURE_CERTIFICATE"
	ParameterURI                  ParameterType = "URI"
)

// Request is the API's generic request object. Each query reads only some
// fields (see the query methods); the batch forms take a slice of them.
type Request struct {
	FingerPrint              string        `json:"fingerPrint,omitempty"`
	Category                 string        `json:"category,omitempty"`
	OrganizationKey          string        `json:"organizationKey,omitempty"`
	ServiceSpecificationURI  string        `json:"serviceSpecificationUri,omitempty"`
	ServiceElementType       ElementType   `json:"serviceElementType,omitempty"`
	CustomServiceElementType string        `json:"customServiceElementType,omitempty"`
	ParameterType            ParameterType `json:"parameterType,omitempty"`
	ParameterValue           string        `json:"parameterValue,omitempty"`
}

// Problem is an RFC 7807 problem description (application/problem+json).
type Problem struct {
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Status   int    `json:"status,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

var problemCode = regexp.MustCompile(`^\s*(\d{3,5})\s*:`)

// Code returns the DVDV error number that starts Detail ("5005: Kein
// Dienst …" gives "5005"), or "".
func (p *Problem) Code() string {
	if p == nil {
		return ""
	}
	if m := problemCode.FindStringSubmatch(p.Detail); m != nil {
		return m[1]
	}
	return ""
}

// String renders the problem for people: title and detail.
func (p *Problem) String() string {
	if p == nil {
		return ""
	}
	switch {
	case p.Title != "" && p.Detail != "":
		return p.Title + ": " + p.Detail
	case p.Detail != "":
		return p.Detail
	default:
		return p.Title
	}
}

// AccessToken is the answer of the token endpoint. The schema uses the
// OpenID Connect names (access_token, expires_in); the examples in the API
// description use camel case (accessToken, expiresIn). Both are accepted.
type AccessToken struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshExpiresIn int64  `json:"refresh_expires_in,omitempty"`
	TokenType        string `json:"token_type,omitempty"`
	NotBeforePolicy  int64  `json:"not-before-policy,omitempty"`
	SessionState     string `json:"session_state,omitempty"`
	Scope            string `json:"scope,omitempty"`
}

// clip shortens s for error messages.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
