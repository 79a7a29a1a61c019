// Package dvdvroute adapts a dvdv.Directory (the DVDV2 REST client or the
// file-backed directory) to the gateway's Router port: ABH key + XAusländer
// version → organisation key and service URI → route with intermediary URL,
// certificates and scenario.
//
// Errors are passed through unchanged: dvdv errors classify themselves
// (Retryable, Code), so "no service for this ABH" dead-letters a message at
// once while "directory unreachable" is retried.
package dvdvroute

import (
	"context"
	"fmt"
	"strings"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/gateway"
)

// Router implements gateway.Router over a DVDV directory.
type Router struct {
	// Directory answers the lookups (it caches; see the dvdv package).
	Directory dvdv.Directory
	// ABH, when set, checks keys against the ABH code list and gives the
	// organisation-key prefix; without it Prefix is used as is.
	ABH *dvdv.ABHList
	// Prefix of ABH organisation keys when ABH is nil (default "abh").
	Prefix string
	// Services maps XAusländer versions to DVDV service URIs.
	Services dvdv.ServiceURIs
	// Service is the XAusländer service name (default OZG portal → ABH).
	Service string
}

// Route resolves the route for an ABH (key "000100" or organisation key
// "abh:000100") and an XAusländer version.
func (r *Router) Route(ctx context.Context, authority, version string) (gateway.Route, error) {
	org, err := r.orgKey(authority)
	if err != nil {
		return gateway.Route{}, gateway.Permanent("unknown_authority", err)
	}
	svc := r.Service
	if svc == "" {
		svc = dvdv.ServiceOZGPortalToABH
	}
	uri, err := r.Services.For(version, svc)
	if err != nil {
		return gateway.Route{}, gateway.Permanent("service_uri", err)
	}
	rt, err := r.Directory.Lookup(ctx, org, uri)
	if err != nil {
		return gateway.Route{}, err
	}
	out := gateway.Route{Authority: authority, Service: uri, IntermediaryURL: rt.IntermediaryURL,
		AddresseeURI: rt.AddresseeURI, ValidUntil: rt.ValidUntil, Scenario: gateway.ScenarioStore}
	if rt.IntermediaryCipherCert != nil {
		out.IntermediaryCert = rt.IntermediaryCipherCert.Raw
	}
	if rt.IntermediarySignatureCert != nil {
		out.IntermediarySig = rt.IntermediarySignatureCert.Raw
	}
	if rt.AddresseeCipherCert != nil {
		out.AddresseeCipher = rt.AddresseeCipherCert.Raw
	}
	if rt.AddresseeSignatureCert != nil {
		out.AddresseeSig = rt.AddresseeSignatureCert.Raw
	}
	switch rt.Scenario {
	case dvdv.ScenarioForward:
		out.Scenario = gateway.ScenarioForward
	case dvdv.ScenarioMediate:
		out.Scenario = gateway.ScenarioMediate
	}
	if out.IntermediaryURL == "" || out.IntermediaryCert == nil || out.AddresseeCipher == nil {
		return gateway.Route{}, gateway.Permanent("incomplete_route", fmt.Errorf("dvdvroute: the route for %s lacks intermediary URL or cipher certificates", org))
	}
	return out, nil
}

func (r *Router) orgKey(authority string) (dvdv.OrgKey, error) {
	authority = strings.TrimSpace(authority)
	if strings.Contains(authority, ":") {
		return dvdv.ParseOrgKey(authority)
	}
	if r.ABH != nil {
		return r.ABH.Key(authority)
	}
	p := r.Prefix
	if p == "" {
		p = dvdv.DefaultABHPrefix
	}
	k := dvdv.OrgKey{Prefix: p, ID: authority}
	return k, k.Validate()
}
