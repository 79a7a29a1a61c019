package api

import (
	"fmt"
	"sort"

	"github.com/xagw/xagw/gateway"
)

// Tenant is one ABH served by the gateway.
type Tenant struct {
	ABH         string   `json:"abh"`
	AGS         string   `json:"ags,omitempty"`
	Name        string   `json:"name"`
	PostalCodes []string `json:"-"`
}

// Tenants is the table that resolves recipients given as AGS or postal code
// and answers the PLZ check. A postal code may belong to several offices
// (postal areas cross municipal borders), so lookups return lists.
type Tenants struct {
	byABH map[string]Tenant
	byAGS map[string][]Tenant
	byPLZ map[string][]Tenant
}

// NewTenants indexes ts.
func NewTenants(ts []Tenant) *Tenants {
	t := &Tenants{byABH: map[string]Tenant{}, byAGS: map[string][]Tenant{}, byPLZ: map[string][]Tenant{}}
	for _, x := range ts {
		t.byABH[x.ABH] = x
		if x.AGS != "" {
			t.byAGS[x.AGS] = append(t.byAGS[x.AGS], x)
		}
		for _, p := range x.PostalCodes {
			t.byPLZ[p] = append(t.byPLZ[p], x)
		}
	}
	return t
}

// Empty reports whether no tenant is configured.
func (t *Tenants) Empty() bool { return len(t.byABH) == 0 }

// ByPLZ returns the offices responsible for a postal code, sorted by key.
func (t *Tenants) ByPLZ(plz string) []Tenant {
	out := append([]Tenant(nil), t.byPLZ[plz]...)
	sort.Slice(out, func(i, j int) bool { return out[i].ABH < out[j].ABH })
	return out
}

// RecipientRef is how a request names the recipient.
type RecipientRef struct {
	ABH string `json:"abh,omitempty"`
	AGS string `json:"ags,omitempty"`
	PLZ string `json:"plz,omitempty"`
}

func (r RecipientRef) empty() bool { return r.ABH == "" && r.AGS == "" && r.PLZ == "" }

// resolveError is a recipient that cannot be resolved; code is the API
// error code.
type resolveError struct {
	code       string
	msg        string
	candidates []Tenant
}

func (e *resolveError) Error() string { return e.msg }

// Resolve turns a reference into an authority. An ABH key is accepted as is
// when no tenant table is configured; otherwise it must be a tenant.
func (t *Tenants) Resolve(ref RecipientRef) (*gateway.Authority, error) {
	n := 0
	for _, s := range []string{ref.ABH, ref.AGS, ref.PLZ} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, &resolveError{code: "invalid_request", msg: "name the recipient by exactly one of abh, ags and plz"}
	}
	switch {
	case ref.ABH != "":
		if x, ok := t.byABH[ref.ABH]; ok {
			return &gateway.Authority{Key: x.ABH, Name: x.Name}, nil
		}
		if t.Empty() {
			return &gateway.Authority{Key: ref.ABH}, nil
		}
		return nil, &resolveError{code: "unknown_recipient", msg: fmt.Sprintf("ABH %q is not served by this gateway", ref.ABH)}
	case ref.AGS != "":
		return one(t.byAGS[ref.AGS], "AGS "+ref.AGS)
	case ref.PLZ != "":
		return one(t.ByPLZ(ref.PLZ), "postal code "+ref.PLZ)
	}
	return nil, nil
}

func one(ts []Tenant, what string) (*gateway.Authority, error) {
	switch len(ts) {
	case 0:
		return nil, &resolveError{code: "unknown_recipient", msg: "no configured ABH is responsible for " + what}
	case 1:
		return &gateway.Authority{Key: ts[0].ABH, Name: ts[0].Name}, nil
	}
	return nil, &resolveError{code: "ambiguous_recipient", msg: fmt.Sprintf("%d ABH are responsible for %s; name the ABH key", len(ts), what), candidates: ts}
}
