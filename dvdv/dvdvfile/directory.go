package dvdvfile

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xagw/xagw/dvdv"
)

// Options configure a Directory.
type Options struct {
	// Now is the clock for validity checks (default time.Now).
	Now func() time.Time
	// WatchInterval makes the directory check, at most this often and on
	// use, whether the file or a certificate file it names has changed, and
	// reload it (0: only Reload reloads).
	WatchInterval time.Duration
	// BaseDir resolves relative certificate paths for New (Load uses the
	// file's folder).
	BaseDir string
	// Route tightens the certificate checks of Lookup (trust anchors).
	Route dvdv.RouteOptions
	// RouteTTL bounds how long Lookup reuses a route it resolved before
	// building it again (default DefaultRouteTTL; negative: every Lookup
	// builds the route). Within it a route is reused only until its
	// dvdv.Route.RecheckAt and only until the file is reloaded.
	RouteTTL time.Duration
	// Logger receives reload messages (default slog.Default()).
	Logger *slog.Logger
}

// DefaultRouteTTL is Options.RouteTTL's default: the same as the REST
// client's service TTL. Validity changes are exact without it (RecheckAt);
// it bounds how long a certificate refused by the chain check stays refused
// after it could pass.
const DefaultRouteTTL = dvdv.DefaultServiceTTL

// Directory is a loaded directory file. It is safe for concurrent use.
type Directory struct {
	path string // empty for New
	opts Options

	mu        sync.RWMutex
	snap      *snapshot
	stamps    map[string]fileStamp // files read for the snapshot
	lastCheck time.Time
	reloadErr error
}

var (
	_ dvdv.Directory = (*Directory)(nil)
	_ dvdv.Querier   = (*Directory)(nil)
)

type fileStamp struct {
	mod  time.Time
	size int64
}

type snapshot struct {
	orgs        []*orgEntry
	byKey       map[string]*orgEntry
	certs       map[string]*dvdv.Certificate // by SHA-1 fingerprint
	clientCerts []*x509.Certificate
	inters      []dvdv.IntermediarySummary
	categories  []dvdv.Category
	// routes holds resolved routes; it lives and dies with the snapshot,
	// so a reload starts from nothing.
	routes routeMemo
}

// routeMemo keeps the routes Lookup resolved, so that the per-message path
// does not parse and verify the same certificates again. Only routes are
// kept, never refusals, so its size is bounded by the file's services.
type routeMemo struct {
	mu sync.RWMutex
	m  map[routeKey]memoRoute
}

type routeKey struct {
	prefix, id, uri string
}

type memoRoute struct {
	route        *dvdv.Route
	built, until time.Time
}

// get returns the route kept for key if it may be handed out at now.
func (m *routeMemo) get(k routeKey, now time.Time) *dvdv.Route {
	m.mu.RLock()
	e, ok := m.m[k]
	m.mu.RUnlock()
	// A clock that went back before the build (an injected one, or a
	// stepped wall clock) may see certificates not yet valid: build again.
	if !ok || now.Before(e.built) || !now.Before(e.until) {
		return nil
	}
	return e.route
}

func (m *routeMemo) put(k routeKey, e memoRoute) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[routeKey]memoRoute{}
	}
	m.m[k] = e
	m.mu.Unlock()
}

type orgEntry struct {
	desc      dvdv.Organization
	services  map[string]*serviceEntry // by URI
	clientFPs map[string]bool
}

type serviceEntry struct {
	svc      *dvdv.Service
	scenario dvdv.Scenario
}

// Load reads and checks the directory file at path.
func Load(path string, opts Options) (*Directory, error) {
	d := &Directory{path: path, opts: opts}
	if d.opts.Now == nil {
		d.opts.Now = time.Now
	}
	if d.opts.Logger == nil {
		d.opts.Logger = slog.Default()
	}
	if err := d.Reload(); err != nil {
		return nil, err
	}
	return d, nil
}

// New builds a directory from f in memory; relative certificate paths are
// resolved against opts.BaseDir.
func New(f *File, opts Options) (*Directory, error) {
	d := &Directory{opts: opts}
	if d.opts.Now == nil {
		d.opts.Now = time.Now
	}
	if d.opts.Logger == nil {
		d.opts.Logger = slog.Default()
	}
	r := &resolver{base: opts.BaseDir, stamps: map[string]fileStamp{}}
	snap, err := r.build(f)
	if err != nil {
		return nil, err
	}
	d.snap, d.stamps = snap, r.stamps
	return d, nil
}

// Path returns the file the directory was loaded from ("" for New).
func (d *Directory) Path() string { return d.path }

// Reload reads the file again. On error the previous content stays in use
// and the error is returned (and kept for LastReloadError).
func (d *Directory) Reload() error {
	if d.path == "" {
		return errors.New("dvdvfile: directory was not loaded from a file")
	}
	st, err := os.Stat(d.path)
	if err != nil {
		return d.setReloadErr(fmt.Errorf("dvdvfile: %w", err))
	}
	if !st.Mode().IsRegular() || st.Size() > maxFile {
		return d.setReloadErr(fmt.Errorf("dvdvfile: %s is not a regular file of at most %d bytes", d.path, maxFile))
	}
	data, err := os.ReadFile(d.path)
	if err != nil {
		return d.setReloadErr(fmt.Errorf("dvdvfile: %w", err))
	}
	f, err := Parse(data)
	if err != nil {
		return d.setReloadErr(fmt.Errorf("%s: %w", d.path, err))
	}
	r := &resolver{base: filepath.Dir(d.path), stamps: map[string]fileStamp{d.path: {st.ModTime(), st.Size()}}}
	snap, err := r.build(f)
	if err != nil {
		return d.setReloadErr(fmt.Errorf("%s: %w", d.path, err))
	}
	d.mu.Lock()
	d.snap, d.stamps, d.reloadErr = snap, r.stamps, nil
	d.lastCheck = time.Now()
	d.mu.Unlock()
	return nil
}

func (d *Directory) setReloadErr(err error) error {
	d.mu.Lock()
	d.reloadErr = err
	d.lastCheck = time.Now()
	d.mu.Unlock()
	return err
}

// LastReloadError returns the error of the last failed reload, or nil if
// the last reload succeeded.
func (d *Directory) LastReloadError() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.reloadErr
}

// current returns the snapshot to answer from, reloading first if watching
// is on and a file changed.
func (d *Directory) current() *snapshot {
	if d.path != "" && d.opts.WatchInterval > 0 {
		d.mu.RLock()
		due := time.Since(d.lastCheck) >= d.opts.WatchInterval
		d.mu.RUnlock()
		if due && d.changed() {
			if err := d.Reload(); err != nil {
				d.opts.Logger.Error("dvdvfile: reload failed, keeping the previous directory", "file", d.path, "error", err)
			} else {
				d.opts.Logger.Info("dvdvfile: directory reloaded", "file", d.path)
			}
		}
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.snap
}

func (d *Directory) changed() bool {
	d.mu.Lock()
	d.lastCheck = time.Now()
	stamps := d.stamps
	d.mu.Unlock()
	for p, s := range stamps {
		st, err := os.Stat(p)
		if err != nil || !st.ModTime().Equal(s.mod) || st.Size() != s.size {
			return true
		}
	}
	return false
}

// ClientCertificates returns the certificates that may obtain DVDV tokens.
func (d *Directory) ClientCertificates() []*x509.Certificate {
	return d.current().clientCerts
}

// resolver turns a File into a snapshot, reading certificate files.
type resolver struct {
	base   string
	stamps map[string]fileStamp
	certs  map[string]*dvdv.Certificate
}

func (r *resolver) build(f *File) (*snapshot, error) {
	r.certs = map[string]*dvdv.Certificate{}
	s := &snapshot{byKey: map[string]*orgEntry{}, certs: r.certs}

	type inter struct {
		url         string
		provider    string
		cipher, sig *dvdv.Certificate
	}
	inters := map[string]*inter{}
	for i, in := range f.Intermediaries {
		where := fmt.Sprintf("intermediaries[%d]", i)
		if in.Name == "" {
			return nil, fmt.Errorf("%s: name is missing", where)
		}
		where += " (" + in.Name + ")"
		if _, dup := inters[in.Name]; dup {
			return nil, fmt.Errorf("%s: the name is used twice", where)
		}
		u, err := url.Parse(in.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: url %q is not an absolute http(s) URL", where, in.URL)
		}
		if in.CipherCertificate == nil {
			return nil, fmt.Errorf("%s: cipherCertificate is missing", where)
		}
		c, err := r.cert(in.CipherCertificate)
		if err != nil {
			return nil, fmt.Errorf("%s: cipherCertificate: %w", where, err)
		}
		it := &inter{url: in.URL, provider: in.Provider, cipher: c}
		if in.SignatureCertificate != nil {
			if it.sig, err = r.cert(in.SignatureCertificate); err != nil {
				return nil, fmt.Errorf("%s: signatureCertificate: %w", where, err)
			}
		}
		inters[in.Name] = it
		s.inters = append(s.inters, dvdv.IntermediarySummary{
			ID: int64(i + 1), Provider: true, OrgaProvName: in.Provider, SelName: in.Name,
			SelDescription: "OSCI-Intermediär", URI: in.URL,
		})
	}

	serviceID := int64(0)
	categoryPrefix := map[string]string{}
	var categoryOrder []string
	for i, o := range f.Organizations {
		where := fmt.Sprintf("organizations[%d]", i)
		keys := append([]string(nil), o.Keys...)
		if o.Key != "" {
			keys = append([]string{o.Key}, keys...)
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: key is missing", where)
		}
		where += " (" + keys[0] + ")"
		if o.Name == "" {
			return nil, fmt.Errorf("%s: name is missing", where)
		}
		category := o.Category
		if category == "" {
			category = "Behörde"
		}
		e := &orgEntry{services: map[string]*serviceEntry{}, clientFPs: map[string]bool{}}
		e.desc = dvdv.Organization{
			ID: int64(i + 1), NameDe: o.Name, PostalAddress: o.Address, Category: category,
			ValidFrom: instant(o.ValidFrom), ValidTo: instant(o.ValidTo),
		}
		for _, k := range keys {
			ok, err := dvdv.ParseOrgKey(k)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if _, dup := s.byKey[ok.String()]; dup {
				return nil, fmt.Errorf("%s: organisation key %s is used by another organisation too", where, ok)
			}
			s.byKey[ok.String()] = e
			e.desc.OrganizationKeys = append(e.desc.OrganizationKeys, ok.String())
			if _, seen := categoryPrefix[category]; !seen {
				categoryPrefix[category] = ok.Prefix
				categoryOrder = append(categoryOrder, category)
			}
		}
		for j, ref := range o.ClientCertificates {
			c, err := r.cert(ref)
			if err != nil {
				return nil, fmt.Errorf("%s: clientCertificates[%d]: %w", where, j, err)
			}
			e.desc.ClientCertificates = append(e.desc.ClientCertificates, *c)
			e.clientFPs[c.Fingerprint] = true
			x, _ := c.X509()
			s.clientCerts = append(s.clientCerts, x)
		}
		for j, sv := range o.Services {
			swhere := fmt.Sprintf("%s: services[%d]", where, j)
			if n := len(sv.URI); n < 9 || n > 1000 {
				return nil, fmt.Errorf("%s: uri %q must be 9 to 1000 characters", swhere, sv.URI)
			}
			swhere += " (" + sv.URI + ")"
			if _, dup := e.services[sv.URI]; dup {
				return nil, fmt.Errorf("%s: the organisation has this service twice", swhere)
			}
			it, ok := inters[sv.Intermediary]
			if !ok {
				return nil, fmt.Errorf("%s: intermediary %q is not defined under intermediaries", swhere, sv.Intermediary)
			}
			if sv.CipherCertificate == nil {
				return nil, fmt.Errorf("%s: cipherCertificate is missing", swhere)
			}
			cipher, err := r.cert(sv.CipherCertificate)
			if err != nil {
				return nil, fmt.Errorf("%s: cipherCertificate: %w", swhere, err)
			}
			var sig *dvdv.Certificate
			if sv.SignatureCertificate != nil {
				if sig, err = r.cert(sv.SignatureCertificate); err != nil {
					return nil, fmt.Errorf("%s: signatureCertificate: %w", swhere, err)
				}
			}
			scenario, err := dvdv.ParseScenario(sv.Scenario)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", swhere, err)
			}
			if sv.ValidFrom != nil && sv.ValidTo != nil && !sv.ValidTo.After(*sv.ValidFrom) {
				return nil, fmt.Errorf("%s: validTo %s is not after validFrom %s", swhere, sv.ValidTo.Format(time.RFC3339), sv.ValidFrom.Format(time.RFC3339))
			}
			name := sv.Name
			if name == "" {
				name = strings.TrimSuffix(path.Base(sv.URI), ".wsdl")
			}
			serviceID++
			svc := &dvdv.Service{
				ServiceBase: dvdv.ServiceBase{
					ID: serviceID, ValidFrom: instant(sv.ValidFrom), ValidTo: instant(sv.ValidTo),
					NameDe: name, ServiceDescriptionName: name, ServiceSpecificationType: "WSDL_OSCI",
					ServiceSpecificationURI: sv.URI,
				},
				ServiceSpecificationDocument: sv.Document,
				OrganizationNameDe:           o.Name,
				ServiceElements: []dvdv.ServiceElement{
					{
						Name: sv.Intermediary, DescriptionName: "OSCI-Intermediär", Type: dvdv.ElementIntermediary,
						URI: it.url, CipherCertificate: it.cipher, SignatureCertificate: it.sig,
						Required: true, ID: serviceID*10 + 1, ProviderID: 1, ProviderNameDe: it.provider,
					},
					{
						Name: "Empfänger", DescriptionName: "OSCI-Empfänger", Type: dvdv.ElementAddressee,
						URI: sv.Addressee, CipherCertificate: cipher, SignatureCertificate: sig,
						Required: true, ID: serviceID*10 + 2, ProviderID: int64(i + 1), ProviderNameDe: o.Name,
					},
				},
			}
			e.services[sv.URI] = &serviceEntry{svc: svc, scenario: scenario}
			e.desc.Services = append(e.desc.Services, svc.ServiceBase)
		}
		s.orgs = append(s.orgs, e)
	}

	s.categories = f.Categories
	if len(s.categories) == 0 && len(categoryOrder) > 0 {
		root := dvdv.Category{Name: "Behörden"}
		for _, c := range categoryOrder {
			root.Children = append(root.Children, dvdv.Category{Name: c, Prefix: categoryPrefix[c]})
		}
		s.categories = []dvdv.Category{root}
	}
	return s, nil
}

// Size limits: a directory file is written by hand or by the gateway and
// stays small; certificates are a few KiB.
const (
	maxFile     = 64 << 20
	maxCertFile = 1 << 20
)

// cert resolves a certificate reference into a directory record.
func (r *resolver) cert(ref *CertRef) (*dvdv.Certificate, error) {
	if ref == nil || (ref.PEM == "" && ref.File == "") {
		return nil, errors.New("empty certificate (give inline PEM or a file)")
	}
	if ref.PEM != "" && ref.File != "" {
		return nil, errors.New("give either pem or file, not both")
	}
	data := []byte(ref.PEM)
	src := "inline PEM"
	if ref.File != "" {
		p := ref.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.base, p)
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		// Refuse devices and pipes (a path like /dev/zero would never end)
		// and anything far larger than a certificate.
		if !st.Mode().IsRegular() || st.Size() > maxCertFile {
			return nil, fmt.Errorf("file %s is not a regular file of at most %d bytes", ref.File, maxCertFile)
		}
		if data, err = os.ReadFile(p); err != nil {
			return nil, err
		}
		r.stamps[p] = fileStamp{st.ModTime(), st.Size()}
		src = "file " + ref.File
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM CERTIFICATE block", src)
	}
	x, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	rec := dvdv.CertificateFromX509(x)
	rec.RevocationDate = instant(ref.RevocationDate)
	rec.RevocationReason = ref.RevocationReason
	if prev, ok := r.certs[rec.Fingerprint]; ok {
		if prev.Revoked() != rec.Revoked() {
			return nil, fmt.Errorf("certificate %s is given twice with different revocation data", rec.Fingerprint)
		}
		return prev, nil
	}
	r.certs[rec.Fingerprint] = &rec
	return &rec, nil
}

func instant(t *time.Time) dvdv.Instant {
	if t == nil {
		return dvdv.Instant{}
	}
	return dvdv.At(*t)
}

// Problem texts follow the real directory's (German) wording and numbers.

func notFoundProblem(detail string) *dvdv.Problem {
	return &dvdv.Problem{Type: "problems/type/ENTITY_NOT_FOUND", Title: "Entität nicht gefunden", Status: http.StatusNotFound,
		Detail: detail, Instance: "problems/instance/DirectoryEntityNotFound"}
}

// Lookup resolves a route from the file. The route is kept and handed out
// again (shared: callers must not modify it) until the first of: its
// RecheckAt (a certificate, chain or the service reaching the end or start
// of its validity), RouteTTL, and a reload of the file. Refusals are not
// kept.
func (d *Directory) Lookup(ctx context.Context, org dvdv.OrgKey, serviceURI string) (*dvdv.Route, error) {
	s := d.current()
	now := d.opts.Now()
	key := routeKey{org.Prefix, org.ID, serviceURI}
	ttl := d.opts.RouteTTL
	if ttl == 0 {
		ttl = DefaultRouteTTL
	}
	if ttl > 0 {
		if r := s.routes.get(key, now); r != nil {
			return r, nil
		}
	}
	se, err := d.serviceIn(s, org, serviceURI, now)
	if err != nil {
		return nil, err
	}
	r, err := dvdv.RouteFromServiceOptions(org, serviceURI, se.svc, now, d.opts.Route)
	if err != nil {
		return nil, err
	}
	r.Scenario = se.scenario
	r.Source = "file " + d.path
	if d.path == "" {
		r.Source = "file directory (in memory)"
	}
	if until := r.RecheckAt(); ttl > 0 && !until.IsZero() {
		if limit := now.Add(ttl); limit.Before(until) {
			until = limit
		}
		s.routes.put(key, memoRoute{route: r, built: now, until: until})
	}
	return r, nil
}

func (d *Directory) service(org dvdv.OrgKey, uri string) (*serviceEntry, error) {
	return d.serviceIn(d.current(), org, uri, d.opts.Now())
}

func (d *Directory) serviceIn(s *snapshot, org dvdv.OrgKey, uri string, now time.Time) (*serviceEntry, error) {
	const op = dvdv.OpFindServiceDescription
	if err := org.Validate(); err != nil {
		return nil, &dvdv.Error{Op: op, Kind: dvdv.ErrBadRequest, Err: err}
	}
	e := s.byKey[org.String()]
	var se *serviceEntry
	if e != nil {
		se = e.services[uri]
	}
	if se == nil {
		return nil, &dvdv.Error{Op: op, Kind: dvdv.ErrNoService, Organization: org.String(), ServiceURI: uri,
			Problem: notFoundProblem(fmt.Sprintf("5005: Kein Dienst zum Organisationsschlüssel '%s' und URI %s.", org, uri))}
	}
	svc := se.svc
	if !svc.ValidFrom.IsZero() && now.Before(svc.ValidFrom.Time) {
		return nil, &dvdv.Error{Op: op, Kind: dvdv.ErrNoService, Organization: org.String(), ServiceURI: uri,
			Warning: fmt.Sprintf("Der Dienst %s der Organisation %s ist erst ab %s gültig.", uri, org, svc.ValidFrom.UTC().Format(time.RFC3339))}
	}
	if !svc.ValidTo.IsZero() && !now.Before(svc.ValidTo.Time) {
		return nil, &dvdv.Error{Op: op, Kind: dvdv.ErrNoService, Organization: org.String(), ServiceURI: uri,
			Warning: fmt.Sprintf("Der Dienst %s der Organisation %s ist seit %s nicht mehr gültig.", uri, org, svc.ValidTo.UTC().Format(time.RFC3339))}
	}
	return se, nil
}

// FindServiceDescription returns the service as the DVDV would. A service
// outside its validity window yields ErrNoService with a Warning (the
// directory's 204 case), an unknown one ErrNoService with a Problem (404).
func (d *Directory) FindServiceDescription(ctx context.Context, org dvdv.OrgKey, serviceURI string) (*dvdv.Service, error) {
	se, err := d.service(org, serviceURI)
	if err != nil {
		return nil, err
	}
	return se.svc, nil
}

// FindAuthorityDescription returns the organisation with key org in category.
func (d *Directory) FindAuthorityDescription(ctx context.Context, category string, org dvdv.OrgKey) (*dvdv.OrganizationDescription, error) {
	e := d.current().byKey[org.String()]
	if e == nil || e.desc.Category != category {
		return nil, &dvdv.Error{Op: dvdv.OpFindAuthorityDescription, Kind: dvdv.ErrUnknownOrganization, Organization: org.String(),
			Problem: notFoundProblem(fmt.Sprintf("5009: Keine Organisation mit Kategorie %q und Organisationsschlüssel %q gefunden", category, org.String()))}
	}
	return &dvdv.OrganizationDescription{Organization: e.desc, Representatives: []dvdv.Organization{}}, nil
}

// FindAuthorityDescriptions returns the organisations with key org.
func (d *Directory) FindAuthorityDescriptions(ctx context.Context, org dvdv.OrgKey) ([]dvdv.OrganizationDescription, error) {
	out := []dvdv.OrganizationDescription{}
	if e := d.current().byKey[org.String()]; e != nil {
		out = append(out, dvdv.OrganizationDescription{Organization: e.desc, Representatives: []dvdv.Organization{}})
	}
	return out, nil
}

// FindCategories returns the categories of the organisation with key org if
// the client certificate with fingerprint is registered for it.
func (d *Directory) FindCategories(ctx context.Context, fingerprint string, org dvdv.OrgKey) ([]string, error) {
	fp := dvdv.NormalizeFingerprint(fingerprint)
	out := []string{}
	if e := d.current().byKey[org.String()]; e != nil && e.clientFPs[fp] {
		out = append(out, e.desc.Category)
	}
	return out, nil
}

// VerifyCategory reports whether an organisation of category has the client
// certificate with fingerprint.
func (d *Directory) VerifyCategory(ctx context.Context, fingerprint, category string) (bool, error) {
	fp := dvdv.NormalizeFingerprint(fingerprint)
	for _, e := range d.current().orgs {
		if e.desc.Category == category && e.clientFPs[fp] {
			return true, nil
		}
	}
	return false, nil
}

// FindCertificateByFingerprint returns any certificate of the file.
func (d *Directory) FindCertificateByFingerprint(ctx context.Context, fingerprint string) (*dvdv.Certificate, error) {
	fp := dvdv.NormalizeFingerprint(fingerprint)
	if c, ok := d.current().certs[fp]; ok {
		return c, nil
	}
	return nil, &dvdv.Error{Op: dvdv.OpFindCertificateByFingerprint, Kind: dvdv.ErrNotFound,
		Problem: notFoundProblem(fmt.Sprintf("Kein Zertifikat mit Fingerprint %s gefunden", fp))}
}

// FindOrganizationsByServiceElement returns the organisations (lightweight:
// no certificates, no services) with a matching service element.
func (d *Directory) FindOrganizationsByServiceElement(ctx context.Context, q dvdv.Request) ([]dvdv.Organization, error) {
	out := []dvdv.Organization{}
	value := strings.TrimSpace(q.ParameterValue)
	for _, e := range d.current().orgs {
		if orgMatches(e, q, value) {
			light := e.desc
			light.ClientCertificates, light.Services = nil, nil
			out = append(out, light)
		}
	}
	return out, nil
}

func orgMatches(e *orgEntry, q dvdv.Request, value string) bool {
	for _, se := range e.services {
		for _, el := range se.svc.ServiceElements {
			if q.ServiceElementType != "" && el.Type != q.ServiceElementType {
				continue
			}
			if q.CustomServiceElementType != "" && el.CustomType != q.CustomServiceElementType {
				continue
			}
			switch q.ParameterType {
			case dvdv.ParameterCipherCertificate:
				if el.CipherCertificate != nil && el.CipherCertificate.Fingerprint == dvdv.NormalizeFingerprint(value) {
					return true
				}
			case dvdv.ParameterSignatureCertificate:
				if el.SignatureCertificate != nil && el.SignatureCertificate.Fingerprint == dvdv.NormalizeFingerprint(value) {
					return true
				}
			case dvdv.ParameterURI:
				if el.URI == value {
					return true
				}
			}
		}
	}
	return false
}

// FindServiceSpecificationURIsByCategory returns the service URIs offered by
// organisations of category, sorted.
func (d *Directory) FindServiceSpecificationURIsByCategory(ctx context.Context, category string) ([]string, error) {
	set := map[string]bool{}
	for _, e := range d.current().orgs {
		if e.desc.Category == category {
			for uri := range e.services {
				set[uri] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for uri := range set {
		out = append(out, uri)
	}
	sort.Strings(out)
	return out, nil
}

// Categories returns the file's category tree, or one derived from the
// organisations' categories.
func (d *Directory) Categories(ctx context.Context) ([]dvdv.Category, error) {
	return d.current().categories, nil
}

// Intermediaries returns the file's intermediaries.
func (d *Directory) Intermediaries(ctx context.Context) ([]dvdv.IntermediarySummary, error) {
	return d.current().inters, nil
}

// Version names the file directory.
func (d *Directory) Version(ctx context.Context) (*dvdv.ServerVersion, error) {
	return &dvdv.ServerVersion{Version: "xagw-file-directory", BuildNumber: "1", SchemaVersion: "v2"}, nil
}

func dirOf(p string) string { return filepath.Dir(p) }
