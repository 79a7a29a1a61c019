package dvdv

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/internal/sharedpath"
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

// ABHList is the code list urn:de:xauslaender:codelist:abhkennung.
type ABHList struct {
	// Version is the code list version (e.g. "64.0").
	Version string
	// Prefix is the DVDV organisation-key prefix used by Key (default
	// DefaultABHPrefix).
	Prefix  string
	entries map[string]ABH
}

// genericode is the part of an OASIS genericode document this package reads.
type genericode struct {
	XMLName        xml.Name `xml:"CodeList"`
	Identification struct {
		CanonicalURI string `xml:"CanonicalUri"`
		Version      string `xml:"Version"`
	} `xml:"Identification"`
	Rows []struct {
		Values []struct {
			ColumnRef string `xml:"ColumnRef,attr"`
			Value     string `xml:"SimpleValue"`
		} `xml:"Value"`
	} `xml:"SimpleCodeList>Row"`
}

// ParseABHList reads the code list from genericode XML (untrusted input:
// size and depth limits, no DTD).
func ParseABHList(data []byte) (*ABHList, error) {
	if err := safexml.Check(data, safexml.Limits{MaxBytes: 32 << 20, MaxDepth: 32}); err != nil {
		return nil, fmt.Errorf("dvdv: ABH code list: %w", err)
	}
	var gc genericode
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&gc); err != nil {
		return nil, fmt.Errorf("dvdv: ABH code list: %w", err)
	}
	if gc.XMLName.Space != "http://docs.oasis-open.org/codelist/ns/genericode/1.0/" {
		return nil, fmt.Errorf("dvdv: ABH code list: root element is {%s}%s, want a genericode CodeList", clip(gc.XMLName.Space, 80), clip(gc.XMLName.Local, 40))
	}
	if got := strings.TrimSpace(gc.Identification.CanonicalURI); got != ABHCodeListURI {
		return nil, fmt.Errorf("dvdv: ABH code list: this is code list %q, want %s", clip(got, 100), ABHCodeListURI)
	}
	l := &ABHList{Version: strings.TrimSpace(gc.Identification.Version), Prefix: DefaultABHPrefix, entries: make(map[string]ABH, len(gc.Rows))}
	for i, row := range gc.Rows {
		var a ABH
		for _, v := range row.Values {
			val := strings.TrimSpace(v.Value)
			switch v.ColumnRef {
			case "BHKNZ":
				a.Key = val
			case "Kurzbezeichnung":
				a.Name = val
			case "Behoerdenart":
				a.Kind = val
			case "Bundesland":
				a.State = val
			}
		}
		if a.Key == "" {
			return nil, fmt.Errorf("dvdv: ABH code list: row %d has no BHKNZ value", i+1)
		}
		if _, dup := l.entries[a.Key]; dup {
			return nil, fmt.Errorf("dvdv: ABH code list: BHKNZ %q appears twice (row %d)", a.Key, i+1)
		}
		l.entries[a.Key] = a
	}
	if len(l.entries) == 0 {
		return nil, errors.New("dvdv: ABH code list has no rows")
	}
	return l, nil
}

// LoadABHList reads the code list from a genericode file.
func LoadABHList(path string) (*ABHList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dvdv: ABH code list: %w", err)
	}
	l, err := ParseABHList(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return l, nil
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
	sort.Slice(matches, func(i, j int) bool { return versionLess(listVersion(matches[i]), listVersion(matches[j])) })
	return matches[len(matches)-1], nil
}

var listVersionRE = regexp.MustCompile(`_([0-9.]+)\.xml$`)

func listVersion(path string) string {
	if m := listVersionRE.FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return ""
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
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
	if _, ok := l.entries[k]; !ok {
		return OrgKey{}, fmt.Errorf("dvdv: %q: %w: not in code list %s version %s", key, ErrUnknownABH, ABHCodeListURI, l.Version)
	}
	ok := OrgKey{Prefix: prefix, ID: k}
	if err := ok.Validate(); err != nil {
		return OrgKey{}, err
	}
	return ok, nil
}

// Lookup returns the code list entry for key.
func (l *ABHList) Lookup(key string) (ABH, bool) {
	a, ok := l.entries[strings.TrimSpace(key)]
	return a, ok
}

// Len returns the number of offices in the list.
func (l *ABHList) Len() int { return len(l.entries) }

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
	v := strings.ReplaceAll(version, ".", "")
	return strings.NewReplacer("{v}", v, "{service}", service).Replace(t), nil
}

// OZGServiceURI returns the default URI of the OZG portal → ABH service of an
// XAusländer version.
func OZGServiceURI(version string) (string, error) {
	return ServiceURIs{}.For(version, ServiceOZGPortalToABH)
}
