// Package dvdvtest is a fake DVDV2 server: it serves the directory API v2
// (all queries and their batch forms, under /dvdv2-backend/<entryPath>/v2/)
// from any dvdv.Querier — usually a dvdvfile.Directory — with the standalone
// token endpoint (RS256 client assertions checked against registered client
// certificates), EmbeddedBearer tokens on extern/standaloneauth/directory,
// the directory's 204/404/400 answers, and knobs for injected failures
// (status codes, delays, malformed JSON, dropped connections, token expiry).
//
// It backs the tests of the dvdv client and `xagw dvdv fake-server`.
package dvdvtest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/xagw/xagw/dvdv"
)

// Options configure a Fake.
type Options struct {
	// Now is the server's clock (token and assertion expiry; default time.Now).
	Now func() time.Time
	// TokenLifetime is the lifetime of issued tokens (default 1 hour).
	TokenLifetime time.Duration
	// ClientCertificates may obtain tokens, in addition to those the backend
	// lists at the time of the request (dvdvfile.Directory.ClientCertificates).
	ClientCertificates []*x509.Certificate
	// Logger receives one line per request (default: discard).
	Logger *slog.Logger
}

// Failure is an injected fault.
type Failure struct {
	// Op limits the failure to one operation: a query name ("findservicedescription",
	// "batch/findservicedescription", "version" …) or "token". Empty: any request.
	Op string
	// Status answers with this HTTP status (and Body, default a short text).
	Status int
	Body   string
	// Delay waits this long before answering (or failing).
	Delay time.Duration
	// Malformed answers 200 with a body that is not the expected JSON.
	Malformed bool
	// Drop closes the connection without an answer.
	Drop bool
	// Times is how many matching requests fail (0 means 1; negative: until
	// ClearFailures).
	Times int
}

// Fake is the fake server's http.Handler.
type Fake struct {
	backend dvdv.Querier
	now     func() time.Time
	log     *slog.Logger

	mu            sync.Mutex
	tokenLifetime time.Duration
	clientCerts   map[string]*x509.Certificate // by SHA-1 fingerprint
	tokens        map[string]time.Time         // token → expiry
	jtis          map[string]time.Time         // used assertion ids → expiry
	failures      []*Failure
	requests      map[string]int
}

// New returns a fake server answering from backend.
func New(backend dvdv.Querier, opts Options) *Fake {
	f := &Fake{
		backend: backend, now: opts.Now, log: opts.Logger,
		tokenLifetime: opts.TokenLifetime,
		clientCerts:   map[string]*x509.Certificate{},
		tokens:        map[string]time.Time{},
		jtis:          map[string]time.Time{},
		requests:      map[string]int{},
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if f.tokenLifetime <= 0 {
		f.tokenLifetime = time.Hour
	}
	for _, c := range opts.ClientCertificates {
		f.clientCerts[dvdv.Fingerprint(c)] = c
	}
	return f
}

// Server is a Fake listening on a loopback port.
type Server struct {
	*Fake
	// URL is the base URL to configure in a client (with /dvdv2-backend).
	URL  string
	HTTP *httptest.Server
}

// NewServer starts a fake server on a loopback port.
func NewServer(backend dvdv.Querier, opts Options) *Server {
	f := New(backend, opts)
	hs := httptest.NewServer(f)
	return &Server{Fake: f, URL: hs.URL + dvdv.DefaultContextPath, HTTP: hs}
}

// Close stops the server.
func (s *Server) Close() { s.HTTP.Close() }

// RegisterClient allows cert to obtain tokens.
func (f *Fake) RegisterClient(cert *x509.Certificate) {
	f.mu.Lock()
	f.clientCerts[dvdv.Fingerprint(cert)] = cert
	f.mu.Unlock()
}

// SetTokenLifetime changes the lifetime of tokens issued from now on.
func (f *Fake) SetTokenLifetime(d time.Duration) {
	f.mu.Lock()
	f.tokenLifetime = d
	f.mu.Unlock()
}

// ExpireTokens invalidates every issued token, as a server restart would.
func (f *Fake) ExpireTokens() {
	f.mu.Lock()
	f.tokens = map[string]time.Time{}
	f.mu.Unlock()
}

// Inject adds a failure; failures apply in the order injected.
func (f *Fake) Inject(fl Failure) {
	if fl.Times == 0 {
		fl.Times = 1
	}
	f.mu.Lock()
	f.failures = append(f.failures, &fl)
	f.mu.Unlock()
}

// ClearFailures removes all injected failures.
func (f *Fake) ClearFailures() {
	f.mu.Lock()
	f.failures = nil
	f.mu.Unlock()
}

// Requests returns how many requests reached op ("token" for the token
// endpoint, "batch/…" for batch forms), failed ones included.
func (f *Fake) Requests(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[op]
}

// ResetRequests zeroes the request counters.
func (f *Fake) ResetRequests() {
	f.mu.Lock()
	f.requests = map[string]int{}
	f.mu.Unlock()
}

func (f *Fake) takeFailure(op string) *Failure {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fl := range f.failures {
		if fl.Op != "" && fl.Op != op {
			continue
		}
		out := *fl
		if fl.Times > 0 {
			fl.Times--
			if fl.Times == 0 {
				f.failures = append(f.failures[:i], f.failures[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

// ServeHTTP routes /dvdv2-backend/<entry>/v2/<op> and the token endpoint.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, dvdv.DefaultContextPath+"/")
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if rest == dvdv.TokenPath {
		f.count("token")
		if f.inject(w, r, "token") {
			return
		}
		f.token(w, r)
		return
	}
	var entry, op string
	for _, e := range []string{dvdv.EntryPathIntern, dvdv.EntryPathStandalone, dvdv.EntryPathBundesmaster} {
		if after, found := strings.CutPrefix(rest, e+"/v2/"); found {
			entry, op = e, after
			break
		}
	}
	if entry == "" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	f.count(op)
	f.log.Info("dvdvtest: request", "entry", entry, "op", op)
	if f.inject(w, r, op) {
		return
	}
	switch entry {
	case dvdv.EntryPathBundesmaster:
		writeProblem(w, &dvdv.Problem{Type: "problems/type/AUTHENTICATION", Title: "Fehler bei der Authentifizierung", Status: http.StatusUnauthorized,
			Detail: "Die Bundesmaster-Authentifizierung wird vom Testserver nicht unterstützt", Instance: "problems/instance/BundesmasterAuthentication"})
		return
	case dvdv.EntryPathStandalone:
		if !f.authorized(r) {
			writeProblem(w, &dvdv.Problem{Type: "problems/type/AUTHENTICATION", Title: "Nicht authentifiziert", Status: http.StatusUnauthorized,
				Detail: "Kein gültiges Token im Header Authorization (EmbeddedBearer)", Instance: "problems/instance/StandaloneAuthentication"})
			return
		}
	}
	if batchOp, isBatch := strings.CutPrefix(op, dvdv.BatchPrefix); isBatch {
		f.batch(w, r, batchOp)
		return
	}
	f.single(w, r, op)
}

func (f *Fake) count(op string) {
	f.mu.Lock()
	f.requests[op]++
	f.mu.Unlock()
}

// inject applies a pending failure for op; it reports whether it answered.
func (f *Fake) inject(w http.ResponseWriter, r *http.Request, op string) bool {
	fl := f.takeFailure(op)
	if fl == nil {
		return false
	}
	if fl.Delay > 0 {
		t := time.NewTimer(fl.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	switch {
	case fl.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case fl.Malformed:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"serviceElements": [ {"broken": `)
		return true
	case fl.Status != 0:
		body := fl.Body
		if body == "" {
			body = fmt.Sprintf("injected failure: HTTP %d\n", fl.Status)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(fl.Status)
		io.WriteString(w, body)
		return true
	}
	return false // a pure delay: answer normally afterwards
}

// authorized checks "Authorization: EmbeddedBearer <token>".
func (f *Fake) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || scheme != "EmbeddedBearer" || tok == "" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	exp, ok := f.tokens[tok]
	return ok && f.now().Before(exp)
}

// token is the standalone token endpoint.
func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, inputProblem(http.StatusMethodNotAllowed, "Nur POST ist erlaubt"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeProblem(w, inputProblem(http.StatusBadRequest, "Formular nicht lesbar: "+err.Error()))
		return
	}
	if g := r.PostForm.Get("grant_type"); g != dvdv.GrantTypeClientCredentials {
		writeProblem(w, inputProblem(http.StatusBadRequest, fmt.Sprintf("grant_type %q wird nicht unterstützt", g)))
		return
	}
	if t := r.PostForm.Get("client_assertion_type"); t != dvdv.ClientAssertionTypeJWT {
		writeProblem(w, inputProblem(http.StatusBadRequest, fmt.Sprintf("client_assertion_type %q wird nicht unterstützt", t)))
		return
	}
	now := f.now()
	lookup := func(fp string) *x509.Certificate {
		f.mu.Lock()
		c := f.clientCerts[fp]
		f.mu.Unlock()
		if c != nil {
			return c
		}
		// Asked on every token request, so a reloaded directory file's
		// client certificates count at once.
		if cc, ok := f.backend.(interface{ ClientCertificates() []*x509.Certificate }); ok {
			for _, c := range cc.ClientCertificates() {
				if dvdv.Fingerprint(c) == fp {
					return c
				}
			}
		}
		return nil
	}
	audience := "http://" + r.Host + r.URL.Path
	if r.TLS != nil {
		audience = "https://" + r.Host + r.URL.Path
	}
	a, err := VerifyAssertion(r.PostForm.Get("client_assertion"), audience, now, lookup)
	if err != nil {
		writeProblem(w, &dvdv.Problem{Type: "problems/type/AUTHENTICATION", Title: "Fehler bei der Standalone-Authentifizierung",
			Status: http.StatusUnauthorized, Detail: err.Error(), Instance: "problems/instance/StandaloneAuthentication"})
		return
	}
	f.mu.Lock()
	for id, exp := range f.jtis {
		if !now.Before(exp) {
			delete(f.jtis, id)
		}
	}
	if _, replay := f.jtis[a.ID]; replay {
		f.mu.Unlock()
		writeProblem(w, &dvdv.Problem{Type: "problems/type/AUTHENTICATION", Title: "Fehler bei der Standalone-Authentifizierung",
			Status: http.StatusUnauthorized, Detail: "Client-Assertion wurde bereits verwendet (jti " + a.ID + ")", Instance: "problems/instance/StandaloneAuthentication"})
		return
	}
	f.jtis[a.ID] = a.Expiry
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		f.mu.Unlock()
		writeProblem(w, &dvdv.Problem{Status: http.StatusInternalServerError, Title: "Interner Fehler"})
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	life := f.tokenLifetime
	f.tokens[tok] = now.Add(life)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, dvdv.AccessToken{
		AccessToken: tok, ExpiresIn: int64(life / time.Second), TokenType: "Bearer",
		Scope: "email profile dvdv2-kernsystem-application-client-scope",
	})
}

func inputProblem(status int, detail string) *dvdv.Problem {
	return &dvdv.Problem{Type: "problems/type/INPUT_VALIDATION", Title: "Invalide Eingabe", Status: status, Detail: detail, Instance: "problems/instance/RequestJsonProcessing"}
}

func validationProblem(detail string) *dvdv.Problem {
	return &dvdv.Problem{Type: "problems/type/SERVICE_VALIDATION", Title: "Invalider Request", Status: http.StatusBadRequest, Detail: detail, Instance: "problems/instance/RestValidation"}
}

// single answers the GET forms.
func (f *Fake) single(w http.ResponseWriter, r *http.Request, op string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeProblem(w, inputProblem(http.StatusMethodNotAllowed, "Nur GET ist erlaubt"))
		return
	}
	var req dvdv.Request
	switch op {
	case dvdv.OpCategories, dvdv.OpIntermediaries, dvdv.OpVersion:
	default:
		raw := r.URL.Query().Get("request_json")
		if err := json.Unmarshal([]byte(raw), &req); err != nil {
			writeProblem(w, inputProblem(http.StatusBadRequest, fmt.Sprintf("7006: Fehler bei JSON-Konvertierung für URL-Query-Parameter request_json='%s'", raw)))
			return
		}
	}
	v, err := f.answer(r.Context(), op, req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// batch answers the POST forms: one result (or null) per request.
func (f *Fake) batch(w http.ResponseWriter, r *http.Request, op string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, inputProblem(http.StatusMethodNotAllowed, "Nur POST ist erlaubt"))
		return
	}
	var reqs []dvdv.Request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&reqs); err != nil {
		writeProblem(w, inputProblem(http.StatusBadRequest, "7006: Fehler bei JSON-Konvertierung des Request-Body: "+err.Error()))
		return
	}
	if len(reqs) > dvdv.MaxBatch {
		writeProblem(w, validationProblem(fmt.Sprintf("Maximal %d Anfragen pro Batch-Aufruf, erhalten: %d", dvdv.MaxBatch, len(reqs))))
		return
	}
	out := make([]any, len(reqs))
	for i, req := range reqs {
		v, err := f.answer(r.Context(), op, req)
		var e *dvdv.Error
		switch {
		case err == nil:
			out[i] = v
		case errors.As(err, &e) && dvdv.IsNegative(err):
			out[i] = nil
		default:
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// answer runs one query against the backend, checking the parameters the
// way the directory does.
func (f *Fake) answer(ctx context.Context, op string, req dvdv.Request) (any, error) {
	need := func(name, value string) error {
		if value == "" {
			return &dvdv.Error{Op: op, Kind: dvdv.ErrBadRequest, Problem: validationProblem(fmt.Sprintf("Parameter '%s' fehlt", name))}
		}
		return nil
	}
	org := func() (dvdv.OrgKey, error) {
		if err := need("organizationKey", req.OrganizationKey); err != nil {
			return dvdv.OrgKey{}, err
		}
		k, err := dvdv.ParseOrgKey(req.OrganizationKey)
		if err != nil {
			return dvdv.OrgKey{}, &dvdv.Error{Op: op, Kind: dvdv.ErrBadRequest, Problem: validationProblem(fmt.Sprintf("Parameter 'organizationKey' ungültig: %q", req.OrganizationKey))}
		}
		return k, nil
	}
	switch op {
	case dvdv.OpFindServiceDescription:
		k, err := org()
		if err != nil {
			return nil, err
		}
		if err := need("serviceSpecificationUri", req.ServiceSpecificationURI); err != nil {
			return nil, err
		}
		return f.backend.FindServiceDescription(ctx, k, req.ServiceSpecificationURI)
	case dvdv.OpFindAuthorityDescription:
		if err := need("category", req.Category); err != nil {
			return nil, err
		}
		k, err := org()
		if err != nil {
			return nil, err
		}
		return f.backend.FindAuthorityDescription(ctx, req.Category, k)
	case dvdv.OpFindAuthorityDescriptions:
		k, err := org()
		if err != nil {
			return nil, err
		}
		return f.backend.FindAuthorityDescriptions(ctx, k)
	case dvdv.OpFindCategories:
		if err := need("fingerPrint", req.FingerPrint); err != nil {
			return nil, err
		}
		k, err := org()
		if err != nil {
			return nil, err
		}
		return f.backend.FindCategories(ctx, req.FingerPrint, k)
	case dvdv.OpVerifyCategory:
		if err := need("fingerPrint", req.FingerPrint); err != nil {
			return nil, err
		}
		if err := need("category", req.Category); err != nil {
			return nil, err
		}
		ok, err := f.backend.VerifyCategory(ctx, req.FingerPrint, req.Category)
		if err != nil {
			return nil, err
		}
		return struct {
			VerifyCategory bool `json:"verifyCategory"`
		}{ok}, nil
	case dvdv.OpFindCertificateByFingerprint:
		if err := need("fingerPrint", req.FingerPrint); err != nil {
			return nil, err
		}
		return f.backend.FindCertificateByFingerprint(ctx, req.FingerPrint)
	case dvdv.OpFindOrganizationsByServiceElement:
		if req.ServiceElementType == "" && req.CustomServiceElementType == "" {
			return nil, need("serviceElementType", "")
		}
		if err := need("parameterType", string(req.ParameterType)); err != nil {
			return nil, err
		}
		if err := need("parameterValue", req.ParameterValue); err != nil {
			return nil, err
		}
		return f.backend.FindOrganizationsByServiceElement(ctx, req)
	case dvdv.OpFindServiceSpecificationUrisByCategory:
		if err := need("category", req.Category); err != nil {
			return nil, err
		}
		return f.backend.FindServiceSpecificationURIsByCategory(ctx, req.Category)
	case dvdv.OpCategories:
		return f.backend.Categories(ctx)
	case dvdv.OpIntermediaries:
		return f.backend.Intermediaries(ctx)
	case dvdv.OpVersion:
		return f.backend.Version(ctx)
	}
	return nil, &dvdv.Error{Op: op, Kind: dvdv.ErrNotFound, Problem: &dvdv.Problem{Type: "problems/type/ENTITY_NOT_FOUND",
		Title: "Unbekannte Operation", Status: http.StatusNotFound, Detail: fmt.Sprintf("Operation %q gibt es nicht", op)}}
}

// writeError maps a backend error to the directory's answers: a warning
// becomes 204 with dvdv-warning-msg, other negative answers 404 with a
// problem, invalid requests 400, anything else 500.
func writeError(w http.ResponseWriter, err error) {
	var e *dvdv.Error
	errors.As(err, &e)
	switch {
	case e != nil && e.Warning != "" && dvdv.IsNegative(err):
		w.Header().Set(dvdv.WarningHeader, mime.QEncoding.Encode("UTF-8", e.Warning))
		w.WriteHeader(http.StatusNoContent)
	case dvdv.IsNegative(err):
		p := &dvdv.Problem{Type: "problems/type/ENTITY_NOT_FOUND", Title: "Entität nicht gefunden", Detail: err.Error()}
		if e != nil && e.Problem != nil {
			p = e.Problem
		}
		p.Status = http.StatusNotFound
		writeProblem(w, p)
	case errors.Is(err, dvdv.ErrBadRequest):
		p := validationProblem(err.Error())
		if e != nil && e.Problem != nil {
			p = e.Problem
		}
		p.Status = http.StatusBadRequest
		writeProblem(w, p)
	default:
		writeProblem(w, &dvdv.Problem{Type: "problems/type/INTERNAL", Title: "Interner Fehler", Status: http.StatusInternalServerError, Detail: err.Error()})
	}
}

func writeProblem(w http.ResponseWriter, p *dvdv.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<" stays "<", as the DVDV writes it
	enc.Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
