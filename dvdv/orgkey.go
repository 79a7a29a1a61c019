package dvdv

import (
	"fmt"
	"strings"
)

// OrgKey is a DVDV organisation key: a prefix naming the kind of key (for
// example "ags" for the official municipality key, "psb" for passport
// authorities) and the organisation id, written "prefix:id".
type OrgKey struct {
	Prefix string
	ID     string
}

// The API accepts organisation keys of 6 to 255 characters.
const (
	minOrgKeyLen = 6
	maxOrgKeyLen = 255
)

// ParseOrgKey parses "prefix:id". The prefix is letters and digits; the id is
// any printable text without spaces (DVDV ids contain digits, letters, '_'
// and '-').
func ParseOrgKey(s string) (OrgKey, error) {
	prefix, id, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return OrgKey{}, fmt.Errorf("dvdv: organisation key %q has no prefix (want prefix:id, e.g. ags:01001000)", s)
	}
	k := OrgKey{Prefix: prefix, ID: id}
	if err := k.Validate(); err != nil {
		return OrgKey{}, err
	}
	return k, nil
}

// MustParseOrgKey is ParseOrgKey for constants in tests and examples.
func MustParseOrgKey(s string) OrgKey {
	k, err := ParseOrgKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// Validate reports whether k can be sent to the directory.
func (k OrgKey) Validate() error {
	if k.Prefix == "" {
		return fmt.Errorf("dvdv: organisation key %q: empty prefix", k.String())
	}
	for _, r := range k.Prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("dvdv: organisation key %q: prefix may contain only letters and digits", k.String())
		}
	}
	if k.ID == "" {
		return fmt.Errorf("dvdv: organisation key %q: empty id after the prefix", k.String())
	}
	for _, r := range k.ID {
		if r <= ' ' || r == 0x7f || r == ':' {
			return fmt.Errorf("dvdv: organisation key %q: id contains a space, colon or control character", k.String())
		}
	}
	if n := len(k.String()); n < minOrgKeyLen || n > maxOrgKeyLen {
		return fmt.Errorf("dvdv: organisation key %q: length %d outside %d..%d", k.String(), n, minOrgKeyLen, maxOrgKeyLen)
	}
	return nil
}

// String returns "prefix:id".
func (k OrgKey) String() string {
	if k.Prefix == "" && k.ID == "" {
		return ""
	}
	return k.Prefix + ":" + k.ID
}

// IsZero reports whether k is empty.
func (k OrgKey) IsZero() bool { return k.Prefix == "" && k.ID == "" }

// MarshalText writes "prefix:id", so keys appear as strings in JSON and YAML.
func (k OrgKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses "prefix:id".
func (k *OrgKey) UnmarshalText(b []byte) error {
	p, err := ParseOrgKey(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}
