package dvdv

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Operation names: the last path segment of each query (the batch forms live
// under "batch/").
const (
	OpFindServiceDescription                 = "findservicedescription"
	OpFindAuthorityDescription               = "findauthoritydescription"
	OpFindAuthorityDescriptions              = "findauthoritydescriptions"
	OpFindCategories                         = "findcategories"
	OpVerifyCategory                         = "verifycategory"
	OpFindCertificateByFingerprint           = "findCertificateByFingerprint"
	OpFindOrganizationsByServiceElement      = "findOrganizationsByServiceElement"
	OpFindServiceSpecificationUrisByCategory = "findServiceSpecificationUrisByCategory"
	OpCategories                             = "categories"
	OpIntermediaries                         = "intermediaries"
	OpVersion                                = "version"
	BatchPrefix                              = "batch/"
)

const opFindCertificate = OpFindCertificateByFingerprint

// Querier is the full query surface of the DVDV2 directory API (single
// forms). *Client implements it over HTTP, dvdvfile.Directory over a file,
// and dvdvtest serves any Querier as the HTTP API.
//
// Answers may be shared with a cache: treat them as read-only.
type Querier interface {
	FindServiceDescription(ctx context.Context, org OrgKey, serviceURI string) (*Service, error)
	FindAuthorityDescription(ctx context.Context, category string, org OrgKey) (*OrganizationDescription, error)
	FindAuthorityDescriptions(ctx context.Context, org OrgKey) ([]OrganizationDescription, error)
	FindCategories(ctx context.Context, fingerprint string, org OrgKey) ([]string, error)
	VerifyCategory(ctx context.Context, fingerprint, category string) (bool, error)
	FindCertificateByFingerprint(ctx context.Context, fingerprint string) (*Certificate, error)
	FindOrganizationsByServiceElement(ctx context.Context, q Request) ([]Organization, error)
	FindServiceSpecificationURIsByCategory(ctx context.Context, category string) ([]string, error)
	Categories(ctx context.Context) ([]Category, error)
	Intermediaries(ctx context.Context) ([]IntermediarySummary, error)
	Version(ctx context.Context) (*ServerVersion, error)
}

var (
	_ Querier   = (*Client)(nil)
	_ Directory = (*Client)(nil)
)

// query runs one exchange and decodes a 200 answer with dec.
func query[T any](ctx context.Context, c *Client, op, method string, req any, dec func([]byte) (T, error)) (T, answer, error) {
	var v T
	var payload []byte
	if req != nil {
		payload = encodeRequest(req)
	}
	ans, err := c.exchange(ctx, op, method, payload, func(b []byte) error {
		var err error
		v, err = dec(b)
		return err
	})
	return v, ans, err
}

// cachedCall serves key from the cache or fills it.
func cachedCall[T any](ctx context.Context, c *Client, kind cacheKind, key string, fill func(context.Context) (T, error, time.Time)) (T, error) {
	if c.cache == nil || c.cacheCfg.ttl(kind) < 0 {
		v, err, _ := fill(ctx)
		return v, err
	}
	v, err := c.cache.get(ctx, fmt.Sprintf("%d|%s", kind, key), c.now, func(ctx context.Context) (any, error, time.Time) {
		return fill(ctx)
	})
	t, _ := v.(T)
	return t, err
}

// keep returns until when a positive answer may be cached.
func (c *Client) keep(kind cacheKind, validTo time.Time) time.Time {
	return earliest(c.now().Add(c.cacheCfg.ttl(kind)), validTo)
}

// keepNegative returns until when err may be cached (zero: not at all).
func (c *Client) keepNegative(err error) time.Time {
	if !IsNegative(err) || c.cacheCfg.negativeTTL() < 0 {
		return time.Time{}
	}
	return c.now().Add(c.cacheCfg.negativeTTL())
}

// refusal turns a non-200 functional answer into an error.
func refusal(op string, ans answer, notFound error, org, uri string) error {
	e := &Error{Op: op, Server: ans.server, Status: ans.status, Warning: ans.warning, Problem: ans.problem, Organization: org, ServiceURI: uri}
	switch ans.status {
	case http.StatusNoContent, http.StatusNotFound:
		e.Kind = notFound
		if ans.warning == "" && ans.problem == nil {
			e.Reason = "the directory has no matching entry"
		}
	case http.StatusBadRequest:
		e.Kind = ErrBadRequest
	default:
		e.Kind = ErrMalformedResponse
		e.Reason = "unexpected answer"
	}
	return e
}

func badRequest(op, reason string) error {
	return &Error{Op: op, Kind: ErrBadRequest, Reason: reason}
}

func checkOrg(op string, org OrgKey) error {
	if err := org.Validate(); err != nil {
		return &Error{Op: op, Kind: ErrBadRequest, Err: err}
	}
	return nil
}

func checkServiceURI(op, uri string) error {
	if n := len(uri); n < 9 || n > 1000 || strings.TrimSpace(uri) != uri {
		return badRequest(op, fmt.Sprintf("service specification URI %q must be 9 to 1000 characters without surrounding space", clip(uri, 80)))
	}
	return nil
}

func checkCategory(op, category string) error {
	if category == "" || len(category) > 255 {
		return badRequest(op, fmt.Sprintf("category %q must be 1 to 255 characters", clip(category, 80)))
	}
	return nil
}

func checkFingerprint(op, fp string) (string, error) {
	n := NormalizeFingerprint(fp)
	if !isSHA1Hex(n) {
		return "", badRequest(op, fmt.Sprintf("fingerprint %q is not a SHA-1 fingerprint (40 hex digits)", clip(fp, 80)))
	}
	return n, nil
}

// serviceAnswer is a cached findservicedescription answer with the server
// that gave it.
type serviceAnswer struct {
	svc    *Service
	server string
}

// Lookup resolves the route for serviceURI of org. Routes are cached until
// the service TTL or the route's RecheckAt (the end of validity of the
// service, of a certificate used or of its chain to the trust anchors, or the
// start of validity of a published rollover certificate), whichever comes
// first; negative answers for the negative TTL. A cache hit does not parse
// or verify certificates again.
func (c *Client) Lookup(ctx context.Context, org OrgKey, serviceURI string) (*Route, error) {
	if err := checkOrg("lookup", org); err != nil {
		return nil, err
	}
	if err := checkServiceURI("lookup", serviceURI); err != nil {
		return nil, err
	}
	return cachedCall(ctx, c, kindRoute, org.String()+"\x00"+serviceURI, func(ctx context.Context) (*Route, error, time.Time) {
		sa, err := c.findService(ctx, org, serviceURI)
		if err != nil {
			return nil, err, c.keepNegative(err)
		}
		r, err := RouteFromServiceOptions(org, serviceURI, sa.svc, c.now(), c.routeOpts)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Server = sa.server
			}
			return nil, err, c.keepNegative(err)
		}
		r.Source = "dvdv " + sa.server
		r.Scenario = c.scenarios[serviceURI]
		// A cache hit hands this route out without checking its
		// certificates again, so it is kept only until its answer could
		// change (a certificate, chain or service reaching the end or start
		// of its validity), and never beyond the route TTL.
		if r.RecheckAt().IsZero() {
			return r, nil, time.Time{}
		}
		return r, nil, c.keep(kindRoute, r.RecheckAt())
	})
}

// FindServiceDescription returns the currently valid service serviceURI of
// org with all its connection parameters (findservicedescription). No such
// service is ErrNoService, carrying the directory's warning or problem text.
func (c *Client) FindServiceDescription(ctx context.Context, org OrgKey, serviceURI string) (*Service, error) {
	if err := checkOrg(OpFindServiceDescription, org); err != nil {
		return nil, err
	}
	if err := checkServiceURI(OpFindServiceDescription, serviceURI); err != nil {
		return nil, err
	}
	sa, err := c.findService(ctx, org, serviceURI)
	if err != nil {
		return nil, err
	}
	return sa.svc, nil
}

func (c *Client) findService(ctx context.Context, org OrgKey, serviceURI string) (serviceAnswer, error) {
	req := Request{OrganizationKey: org.String(), ServiceSpecificationURI: serviceURI}
	return cachedCall(ctx, c, kindService, string(encodeRequest(req)), func(ctx context.Context) (serviceAnswer, error, time.Time) {
		svc, ans, err := query(ctx, c, OpFindServiceDescription, http.MethodGet, req, decodeService)
		if err != nil {
			return serviceAnswer{}, err, time.Time{}
		}
		if ans.status != http.StatusOK {
			err := refusal(OpFindServiceDescription, ans, ErrNoService, org.String(), serviceURI)
			return serviceAnswer{}, err, c.keepNegative(err)
		}
		return serviceAnswer{svc: svc, server: ans.server}, nil, c.keep(kindService, svc.ValidTo.Time)
	})
}

// FindAuthorityDescription returns the organisation with key org in
// category, with its representatives (findauthoritydescription).
func (c *Client) FindAuthorityDescription(ctx context.Context, category string, org OrgKey) (*OrganizationDescription, error) {
	const op = OpFindAuthorityDescription
	if err := checkCategory(op, category); err != nil {
		return nil, err
	}
	if err := checkOrg(op, org); err != nil {
		return nil, err
	}
	req := Request{Category: category, OrganizationKey: org.String()}
	return cachedCall(ctx, c, kindOrganization, op+string(encodeRequest(req)), func(ctx context.Context) (*OrganizationDescription, error, time.Time) {
		d, ans, err := query(ctx, c, op, http.MethodGet, req, decodeOrgDescription)
		if err != nil {
			return nil, err, time.Time{}
		}
		if ans.status != http.StatusOK {
			err := refusal(op, ans, ErrUnknownOrganization, org.String(), "")
			return nil, err, c.keepNegative(err)
		}
		return d, nil, c.keep(kindOrganization, d.Organization.ValidTo.Time)
	})
}

// FindAuthorityDescriptions returns every organisation with key org,
// whatever its category (findauthoritydescriptions). An empty list is not
// an error.
func (c *Client) FindAuthorityDescriptions(ctx context.Context, org OrgKey) ([]OrganizationDescription, error) {
	const op = OpFindAuthorityDescriptions
	if err := checkOrg(op, org); err != nil {
		return nil, err
	}
	req := Request{OrganizationKey: org.String()}
	return cachedCall(ctx, c, kindOrganization, op+string(encodeRequest(req)), func(ctx context.Context) ([]OrganizationDescription, error, time.Time) {
		ds, ans, err := query(ctx, c, op, http.MethodGet, req, decodeOrgDescriptions)
		if err != nil {
			return nil, err, time.Time{}
		}
		switch ans.status {
		case http.StatusOK:
			return ds, nil, c.keep(kindOrganization, time.Time{})
		case http.StatusNoContent, http.StatusNotFound:
			return []OrganizationDescription{}, nil, c.now().Add(c.cacheCfg.negativeTTL())
		}
		return nil, refusal(op, ans, ErrUnknownOrganization, org.String(), ""), time.Time{}
	})
}

// FindCategories returns the categories of the organisations with key org
// that have the client certificate with fingerprint registered
// (findcategories).
func (c *Client) FindCategories(ctx context.Context, fingerprint string, org OrgKey) ([]string, error) {
	const op = OpFindCategories
	fp, err := checkFingerprint(op, fingerprint)
	if err != nil {
		return nil, err
	}
	if err := checkOrg(op, org); err != nil {
		return nil, err
	}
	req := Request{FingerPrint: fp, OrganizationKey: org.String()}
	return cachedCall(ctx, c, kindCategory, op+string(encodeRequest(req)), func(ctx context.Context) ([]string, error, time.Time) {
		cats, ans, err := query(ctx, c, op, http.MethodGet, req, func(b []byte) ([]string, error) { return decodeStrings("categories", b) })
		if err != nil {
			return nil, err, time.Time{}
		}
		switch ans.status {
		case http.StatusOK:
			return cats, nil, c.keep(kindCategory, time.Time{})
		case http.StatusNoContent, http.StatusNotFound:
			return []string{}, nil, c.now().Add(c.cacheCfg.negativeTTL())
		}
		return nil, refusal(op, ans, ErrUnknownOrganization, org.String(), ""), time.Time{}
	})
}

// VerifyCategory reports whether an organisation of category has the
// client certificate with fingerprint registered (verifycategory): the check
// a service provider makes on a caller.
func (c *Client) VerifyCategory(ctx context.Context, fingerprint, category string) (bool, error) {
	const op = OpVerifyCategory
	fp, err := checkFingerprint(op, fingerprint)
	if err != nil {
		return false, err
	}
	if err := checkCategory(op, category); err != nil {
		return false, err
	}
	req := Request{FingerPrint: fp, Category: category}
	return cachedCall(ctx, c, kindCategory, op+string(encodeRequest(req)), func(ctx context.Context) (bool, error, time.Time) {
		ok, ans, err := query(ctx, c, op, http.MethodGet, req, decodeVerification)
		if err != nil {
			return false, err, time.Time{}
		}
		if ans.status != http.StatusOK {
			return false, refusal(op, ans, ErrNotFound, "", ""), time.Time{}
		}
		return ok, nil, c.keep(kindCategory, time.Time{})
	})
}

// FindCertificateByFingerprint returns the directory's record of a
// certificate (findCertificateByFingerprint). The record is returned as
// published, revoked or not: use Certificate.Check before relying on it.
func (c *Client) FindCertificateByFingerprint(ctx context.Context, fingerprint string) (*Certificate, error) {
	const op = OpFindCertificateByFingerprint
	fp, err := checkFingerprint(op, fingerprint)
	if err != nil {
		return nil, err
	}
	req := Request{FingerPrint: fp}
	return cachedCall(ctx, c, kindCertificate, op+string(encodeRequest(req)), func(ctx context.Context) (*Certificate, error, time.Time) {
		cert, ans, err := query(ctx, c, op, http.MethodGet, req, decodeCertificate)
		if err != nil {
			return nil, err, time.Time{}
		}
		if ans.status != http.StatusOK {
			err := refusal(op, ans, ErrNotFound, "", "")
			return nil, err, c.keepNegative(err)
		}
		return cert, nil, c.keep(kindCertificate, cert.ValidTo.Time)
	})
}

// FindOrganizationsByServiceElement returns the organisations having a
// service element that matches q (findOrganizationsByServiceElement): fill
// ServiceElementType (or CustomServiceElementType), ParameterType and
// ParameterValue (a certificate fingerprint or a URI).
func (c *Client) FindOrganizationsByServiceElement(ctx context.Context, q Request) ([]Organization, error) {
	const op = OpFindOrganizationsByServiceElement
	req, err := serviceElementRequest(op, q)
	if err != nil {
		return nil, err
	}
	return cachedCall(ctx, c, kindOrganization, op+string(encodeRequest(req)), func(ctx context.Context) ([]Organization, error, time.Time) {
		orgs, ans, err := query(ctx, c, op, http.MethodGet, req, decodeOrganizations)
		if err != nil {
			return nil, err, time.Time{}
		}
		switch ans.status {
		case http.StatusOK:
			return orgs, nil, c.keep(kindOrganization, time.Time{})
		case http.StatusNoContent, http.StatusNotFound:
			return []Organization{}, nil, c.now().Add(c.cacheCfg.negativeTTL())
		}
		return nil, refusal(op, ans, ErrUnknownOrganization, "", ""), time.Time{}
	})
}

func serviceElementRequest(op string, q Request) (Request, error) {
	req := Request{ServiceElementType: q.ServiceElementType, CustomServiceElementType: q.CustomServiceElementType,
		ParameterType: q.ParameterType, ParameterValue: strings.TrimSpace(q.ParameterValue)}
	if req.ServiceElementType == "" && req.CustomServiceElementType == "" {
		return req, badRequest(op, "set the service element type (or a custom type)")
	}
	switch req.ParameterType {
	case ParameterCipherCertificate, ParameterSignatureCertificate:
		fp, err := checkFingerprint(op, req.ParameterValue)
		if err != nil {
			return req, err
		}
		req.ParameterValue = fp
	case ParameterURI:
		if req.ParameterValue == "" {
			return req, badRequest(op, "the URI to search for is empty")
		}
	default:
		return req, badRequest(op, fmt.Sprintf("parameter type %q is not CIPHER_CERTIFICATE, SIGNATURE_CERTIFICATE or URI", clip(string(req.ParameterType), 40)))
	}
	return req, nil
}

// FindServiceSpecificationURIsByCategory returns the service URIs that
// organisations of category may offer (findServiceSpecificationUrisByCategory).
func (c *Client) FindServiceSpecificationURIsByCategory(ctx context.Context, category string) ([]string, error) {
	const op = OpFindServiceSpecificationUrisByCategory
	if err := checkCategory(op, category); err != nil {
		return nil, err
	}
	req := Request{Category: category}
	return cachedCall(ctx, c, kindCatalog, op+string(encodeRequest(req)), func(ctx context.Context) ([]string, error, time.Time) {
		uris, ans, err := query(ctx, c, op, http.MethodGet, req, decodeURIs)
		if err != nil {
			return nil, err, time.Time{}
		}
		switch ans.status {
		case http.StatusOK:
			return uris, nil, c.keep(kindCatalog, time.Time{})
		case http.StatusNoContent, http.StatusNotFound:
			return []string{}, nil, c.now().Add(c.cacheCfg.negativeTTL())
		}
		return nil, refusal(op, ans, ErrNotFound, "", ""), time.Time{}
	})
}

// Categories returns the category tree (categories).
func (c *Client) Categories(ctx context.Context) ([]Category, error) {
	return catalog(ctx, c, OpCategories, decodeCategories)
}

// Intermediaries returns all intermediaries in the directory (intermediaries).
func (c *Client) Intermediaries(ctx context.Context) ([]IntermediarySummary, error) {
	return catalog(ctx, c, OpIntermediaries, decodeIntermediaries)
}

// Version returns the server's software version (version). It is also a
// cheap health check of the configured servers and credentials.
func (c *Client) Version(ctx context.Context) (*ServerVersion, error) {
	return catalog(ctx, c, OpVersion, decodeVersion)
}

func catalog[T any](ctx context.Context, c *Client, op string, dec func([]byte) (T, error)) (T, error) {
	return cachedCall(ctx, c, kindCatalog, op, func(ctx context.Context) (T, error, time.Time) {
		v, ans, err := query(ctx, c, op, http.MethodGet, nil, dec)
		var zero T
		if err != nil {
			return zero, err, time.Time{}
		}
		if ans.status != http.StatusOK {
			return zero, refusal(op, ans, ErrNotFound, "", ""), time.Time{}
		}
		return v, nil, c.keep(kindCatalog, time.Time{})
	})
}

// Batch forms. Each takes the API's generic Request objects (the fields the
// single form reads), splits them into calls of at most MaxBatch, and
// returns one result per request in order. Batch answers are not cached.

// BatchFindServiceDescription: nil entries are "no valid service".
func (c *Client) BatchFindServiceDescription(ctx context.Context, reqs []Request) ([]*Service, error) {
	return batch(ctx, c, OpFindServiceDescription, reqs, decodeServiceBatch)
}

// BatchFindAuthorityDescription: nil entries are "no such organisation".
func (c *Client) BatchFindAuthorityDescription(ctx context.Context, reqs []Request) ([]*OrganizationDescription, error) {
	return batch(ctx, c, OpFindAuthorityDescription, reqs, decodeOrgDescriptionBatch)
}

// BatchFindCategories returns the categories per (fingerprint, organisation key).
func (c *Client) BatchFindCategories(ctx context.Context, reqs []Request) ([][]string, error) {
	return batch(ctx, c, OpFindCategories, reqs, func(b []byte) ([][]string, error) { return decodeStringsBatch("batch categories", b) })
}

// BatchVerifyCategory returns the verification per (fingerprint, category).
func (c *Client) BatchVerifyCategory(ctx context.Context, reqs []Request) ([]bool, error) {
	return batch(ctx, c, OpVerifyCategory, reqs, decodeVerificationBatch)
}

// BatchFindOrganizationsByServiceElement returns the organisations per query.
func (c *Client) BatchFindOrganizationsByServiceElement(ctx context.Context, reqs []Request) ([][]Organization, error) {
	return batch(ctx, c, OpFindOrganizationsByServiceElement, reqs, decodeOrganizationsBatch)
}

// BatchFindServiceSpecificationURIsByCategory returns the URIs per category.
func (c *Client) BatchFindServiceSpecificationURIsByCategory(ctx context.Context, reqs []Request) ([][]string, error) {
	return batch(ctx, c, OpFindServiceSpecificationUrisByCategory, reqs, decodeURIsBatch)
}

func batch[T any](ctx context.Context, c *Client, op string, reqs []Request, dec func([]byte) ([]T, error)) ([]T, error) {
	full := BatchPrefix + op
	out := make([]T, 0, len(reqs))
	for start := 0; start < len(reqs); start += MaxBatch {
		chunk := reqs[start:min(start+MaxBatch, len(reqs))]
		v, ans, err := query(ctx, c, full, http.MethodPost, chunk, func(b []byte) ([]T, error) {
			v, err := dec(b)
			if err == nil && len(v) != len(chunk) {
				// A misaligned answer would attach results to the wrong
				// requests; treat it as this server's failure.
				return nil, fmt.Errorf("%d results for %d requests", len(v), len(chunk))
			}
			return v, err
		})
		if err != nil {
			return nil, err
		}
		if ans.status != http.StatusOK {
			return nil, refusal(full, ans, ErrNotFound, "", "")
		}
		out = append(out, v...)
	}
	return out, nil
}
