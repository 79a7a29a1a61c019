package xauslaender

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/schemas/codelist"
)

// ABHCodeList is the code list of the foreign-residents offices' keys
// ("Gültige Ausländerbehörden", column BHKNZ).
const ABHCodeList = "urn:de:xauslaender:codelist:abhkennung"

// DefaultABHPrefix is the Behördenkennung prefix put before an ABH key
// ("abh:000100"). The DVDV operators set the prefixes; make it
// configurable (ABHDirectory.Prefix) where a different one is in use.
const DefaultABHPrefix = "abh"

// ErrUnknownABH is returned (wrapped) for keys that are not in the list.
var ErrUnknownABH = errors.New("not a key of a foreign-residents office in the ABH code list")

// ABH is one entry of the ABH code list.
type ABH struct {
	Key        string `json:"key"` // BHKNZ, e.g. "000100"
	Name       string `json:"name"`
	Art        string `json:"art,omitempty"` // Behördenart
	Bundesland string `json:"bundesland,omitempty"`
}

// ABHDirectory looks ABH keys up in the newest version of the ABH code list
// of a schema bundle.
type ABHDirectory struct {
	list *codelist.List
	// Prefix is put before the key in a Behördenkennung (default "abh").
	Prefix string
}

// NewABHDirectory loads the ABH list from the bundle's code lists.
func NewABHDirectory(b *schemas.Bundle) (*ABHDirectory, error) {
	l, ok := b.CodeLists().Latest(ABHCodeList)
	if !ok {
		return nil, fmt.Errorf("xauslaender: the schema bundle %s has no code list %s", b.Dir(), ABHCodeList)
	}
	if l.KeyColumn != "BHKNZ" {
		return nil, fmt.Errorf("xauslaender: ABH code list %s version %s: key column is %s, want BHKNZ", l.URI, l.Version, l.KeyColumn)
	}
	return &ABHDirectory{list: l, Prefix: DefaultABHPrefix}, nil
}

// ListVersion returns the version of the ABH list in use, e.g. "64.0".
func (d *ABHDirectory) ListVersion() string { return d.list.Version }

// Len returns the number of offices in the list.
func (d *ABHDirectory) Len() int { return d.list.Len() }

// Lookup finds an office by key. The key may be given with its prefix
// ("abh:000100") and surrounding spaces.
func (d *ABHDirectory) Lookup(key string) (ABH, error) {
	p, k := SplitKennung(key)
	if p != "" && p != d.prefix() {
		return ABH{}, fmt.Errorf("xauslaender: %q: prefix %q is not the ABH prefix %q", key, p, d.prefix())
	}
	row, ok := d.list.Lookup(k)
	if !ok {
		return ABH{}, fmt.Errorf("xauslaender: ABH key %q: %w %s version %s", k, ErrUnknownABH, d.list.URI, d.list.Version)
	}
	return ABH{Key: k, Name: strings.TrimSpace(row["Kurzbezeichnung"]), Art: row["Behoerdenart"], Bundesland: row["Bundesland"]}, nil
}

func (d *ABHDirectory) prefix() string {
	if d.Prefix == "" {
		return DefaultABHPrefix
	}
	return d.Prefix
}

// Kennung returns the Behördenkennung of an office ("abh:000100") after
// checking that the key is in the list.
func (d *ABHDirectory) Kennung(key string) (string, error) {
	a, err := d.Lookup(key)
	if err != nil {
		return "", err
	}
	return d.prefix() + ":" + a.Key, nil
}

// Leser returns the header reader for an office: DVDV, its Behördenkennung
// and its name from the list. Use it with Sender.Prepare.
func (d *ABHDirectory) Leser(key string) (Behoerde, error) {
	a, err := d.Lookup(key)
	if err != nil {
		return Behoerde{}, err
	}
	return Behoerde{Verzeichnisdienst: "DVDV", Kennung: d.prefix() + ":" + a.Key, Name: a.Name}, nil
}
