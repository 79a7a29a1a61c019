package dvdv

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/schemas/codelist"
)

// ABHCodeListURI is the canonical URI of the XAusländer code list of
// foreign-residents offices.
const ABHCodeListURI = "urn:de:xauslaender:codelist:abhkennung"

// DefaultABHPrefix is the organisation-key prefix under which foreign-residents
// offices are registered in the DVDV, followed by their office key (BHKNZ)
// from the code list. The directory operators assign prefixes; set
// ABHList.Prefix where they differ.
const DefaultABHPrefix = "abh"

// ErrUnknownABH: the office key is not in the code list.
var ErrUnknownABH = errors.New("not a valid foreign-residents office key")

// ABH is one entry of the code list.
type ABH struct {
	// Key is the office key (BHKNZ), six digits.
	Key string
	// Name is the short name (Kurzbezeichnung).
	Name string
	// Kind is the authority type (Behoerdenart).
	Kind string
	// State is the federal state (Bundesland).
	State string
}

// ABHList is the code list urn:de:xauslaender:codelist:abhkennung, read with
// the schemas/codelist genericode reader.
type ABHList struct {
	// List is the underlying code list.
	List *codelist.List
	// Prefix is the DVDV organisation-key prefix used by Key (default
	// DefaultABHPrefix).
	Prefix string
}

// NewABHList checks that l is the ABH code list keyed by BHKNZ.
func NewABHList(l *codelist.List) (*ABHList, error) {
	if l.URI != ABHCodeListURI {
		return nil, fmt.Errorf("dvdv: code list %q is not %s", clip(l.URI, 100), ABHCodeListURI)
	}
	if l.KeyColumn != "BHKNZ" {
		return nil, fmt.Errorf("dvdv: ABH code list version %s is keyed by column %q, want BHKNZ", l.Version, l.KeyColumn)
	}
	if l.Len() == 0 {
		return nil, fmt.Errorf("dvdv: ABH code list version %s has no entries", l.Version)
	}
	return &ABHList{List: l, Prefix: DefaultABHPrefix}, nil
}

// ParseABHList reads the code list from genericode XML (untrusted input:
// size and depth limits, no DTD).
func ParseABHList(data []byte) (*ABHList, error) {
	l, err := codelist.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("dvdv: ABH code list: %w", err)
	}
	return NewABHList(l)
}

// LoadABHList reads the code list from a genericode file.
func LoadABHList(path string) (*ABHList, error) {
	l, err := codelist.Load(path)
	if err != nil {
		return nil, fmt.Errorf("dvdv: ABH code list: %w", err)
	}
	return NewABHList(l)
}

// FindABHCodeList returns the newest "Gueltige Auslaenderbehoerden_<version>.xml"
// below the shared XRepository folder.
func FindABHCodeList() (string, error) {
	root, err := sharedpath.Find("xrepository")
	if err != nil {
		return "", err
	}
	matches, _ := filepath.Glob(filepath.Join(root, "xauslaender", "*", "codelisten", "Gueltige Auslaenderbehoerden_*.xml"))
	if len(matches) == 0 {
		return "", fmt.Errorf("dvdv: no ABH code list (Gueltige Auslaenderbehoerden_*.xml) below %s", root)
	}
	sort.Slice(matches, func(i, j int) bool {
		return codelist.CompareVersions(listVersion(matches[i]), listVersion(matches[j])) < 0
	})
	return matches[len(matches)-1], nil
}

var listVersionRE = regexp.MustCompile(`_([0-9.]+)\.xml$`)

func listVersion(path string) string {
	if m := listVersionRE.FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return ""
}

var (
	defaultABHOnce sync.Once
	defaultABH     *ABHList
	defaultABHErr  error
)

// DefaultABHList loads, once, the newest ABH code list from the shared
// XRepository folder (see FindABHCodeList).
func DefaultABHList() (*ABHList, error) {
	defaultABHOnce.Do(func() {
		path, err := FindABHCodeList()
		if err != nil {
			defaultABHErr = err
			return
		}
		defaultABH, defaultABHErr = LoadABHList(path)
	})
	return defaultABH, defaultABHErr
}

// ABHKey checks key against the default code list and returns the DVDV
// organisation key of that office (DefaultABHPrefix and the key).
func ABHKey(key string) (OrgKey, error) {
	l, err := DefaultABHList()
	if err != nil {
		return OrgKey{}, err
	}
	return l.Key(key)
}

// Version returns the code list version.
func (l *ABHList) Version() string { return l.List.Version }

// Key checks that key (a BHKNZ, or already "prefix:BHKNZ") is in the list and
// returns the DVDV organisation key.
func (l *ABHList) Key(key string) (OrgKey, error) {
	prefix := l.Prefix
	if prefix == "" {
		prefix = DefaultABHPrefix
	}
	k := strings.TrimSpace(key)
	if p, id, ok := strings.Cut(k, ":"); ok {
		if p != prefix {
			return OrgKey{}, fmt.Errorf("dvdv: %q: %w (prefix %q, foreign-residents offices use %q)", key, ErrUnknownABH, p, prefix)
		}
		k = id
	}
	if !l.List.Contains(k) {
		return OrgKey{}, fmt.Errorf("dvdv: %q: %w: not in code list %s version %s", key, ErrUnknownABH, ABHCodeListURI, l.List.Version)
	}
	ok := OrgKey{Prefix: prefix, ID: k}
	if err := ok.Validate(); err != nil {
		return OrgKey{}, err
	}
	return ok, nil
}

// Lookup returns the code list entry for key (a BHKNZ).
func (l *ABHList) Lookup(key string) (ABH, bool) {
	row, ok := l.List.Lookup(strings.TrimSpace(key))
	if !ok {
		return ABH{}, false
	}
	return ABH{Key: row["BHKNZ"], Name: row["Kurzbezeichnung"], Kind: row["Behoerdenart"], State: row["Bundesland"]}, true
}

// Len returns the number of offices in the list.
func (l *ABHList) Len() int { return l.List.Len() }

// Service names of XAusländer DVDV entries (the part after the version in
// the service description name).
const (
	// ServiceOZGPortalToABH: the online service (OZG portal) sends to the ABH.
	ServiceOZGPortalToABH = "OZGPORTALABH"
)

// DefaultServiceURITemplate builds the DVDV service URI of an XAusländer
// service: {v} is the version without dots (1.21.1 → 1211, 26.11 → 2611),
// {service} the service name. It follows the URIs the DVDV publishes for
// XAusländer (e.g. http://www.osci.de/xauslaender1180/xauslaender1180ASYLBAMFAE.wsdl).
const DefaultServiceURITemplate = "http://www.osci.de/xauslaender{v}/xauslaender{v}{service}.wsdl"

// ServiceURIs gives the DVDV service URI per XAusländer version. The exact
// values are set by the directory operators, so both the template and
// individual URIs are configurable.
type ServiceURIs struct {
	// Template is used when Overrides has no entry (default
	// DefaultServiceURITemplate).
	Template string
	// Overrides maps "version service" (e.g. "1.21.1 OZGPORTALABH") to a URI.
	Overrides map[string]string
}

var xaVersionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)

// For returns the service URI of service (e.g. ServiceOZGPortalToABH) in
// XAusländer version (e.g. "1.21.1" or "26.11").
func (s ServiceURIs) For(version, service string) (string, error) {
	version = strings.TrimSpace(version)
	if !xaVersionRE.MatchString(version) {
		return "", fmt.Errorf("dvdv: XAusländer version %q is not of the form 1.21.1 or 26.11", version)
	}
	if service == "" || strings.ContainsAny(service, " /:{}") {
		return "", fmt.Errorf("dvdv: XAusländer service name %q is invalid", service)
	}
	if u, ok := s.Overrides[version+" "+service]; ok {
		return u, nil
	}
	t := s.Template
	if t == "" {
		t = DefaultServiceURITemplate
	}
	// Two plain replacements give what one strings.Replacer pass would
	// (neither value can contain a placeholder: the version is digits, the
	// service has no braces) without building a replacer on every message.
	v := strings.ReplaceAll(version, ".", "")
	return strings.ReplaceAll(strings.ReplaceAll(t, "{v}", v), "{service}", service), nil
}

// OZGServiceURI returns the default URI of the OZG portal → ABH service of an
// XAusländer version.
func OZGServiceURI(version string) (string, error) {
	return ServiceURIs{}.For(version, ServiceOZGPortalToABH)
}
