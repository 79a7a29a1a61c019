// Package api is the gateway's HTTP API: form backends post applications,
// follow their delivery, read the ABH's replies and ask which ABH is
// responsible for a postal code. The contract is openapi.yaml in this
// package (served at /openapi.yaml); a test keeps routes and description in
// step.
//
// Every /v1 route needs an authenticated client (bearer token, stored only
// as SHA-256, or an mTLS client certificate). Errors are JSON:
//
//	{"error": {"code": "validation_failed", "message": "…", "details": [...]}}
//
// with the stable codes listed in openapi.yaml. Logs carry method, route,
// status, client and sizes — never bodies.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the committed OpenAPI 3 description of the API.
func OpenAPI() []byte { return openAPI }

// Config wires a Server.
type Config struct {
	Store   *store.Store
	Outbox  *outbox.Outbox
	Tenants *Tenants
	Auth    *Auth
	Logger  *slog.Logger
	Metrics *metrics.Registry
	// MaxBodyBytes bounds request bodies; larger → 413. The default, 64
	// MiB, is the size limit of the XML checks: document packages carry
	// tens of megabytes.
	MaxBodyBytes int64
	// Ready adds readiness checks beyond the database (e.g. the delivery
	// workers run). Each returns nil when ready.
	Ready map[string]func(ctx context.Context) error
	Clock func() time.Time
}

// Server serves the API.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	paths    *http.ServeMux // same paths without methods: tells 405 from 404
	requests *metrics.CounterVec
	latency  *metrics.HistogramVec
	unauth   *metrics.CounterVec
}

// Principal is the authenticated client of a request.
type Principal struct {
	ClientID string
	Admin    bool
	Method   string // "token" or "mtls"
}

type handler func(w http.ResponseWriter, r *http.Request, p *Principal)

// Route is one documented endpoint.
type Route struct {
	Method string
	Path   string // ServeMux pattern path, e.g. /v1/messages/{id}
	Auth   bool
}

func (s *Server) routes() []struct {
	Route
	h handler
} {
	return []struct {
		Route
		h handler
	}{
		{Route{"POST", "/v1/messages", true}, s.postMessage},
		{Route{"GET", "/v1/messages", true}, s.listMessages},
		{Route{"GET", "/v1/messages/{id}", true}, s.getMessage},
		{Route{"POST", "/v1/messages/{id}/retry", true}, s.retryMessage},
		{Route{"GET", "/v1/inbox", true}, s.listInbox},
		{Route{"GET", "/v1/inbox/{id}", true}, s.getInboxItem},
		{Route{"POST", "/v1/inbox/{id}/ack", true}, s.ackInboxItem},
		{Route{"GET", "/v1/zustaendigkeit", true}, s.zustaendigkeit},
		{Route{"GET", "/healthz", false}, s.healthz},
		{Route{"GET", "/readyz", false}, s.readyz},
		{Route{"GET", "/metrics", false}, s.metrics},
		{Route{"GET", "/openapi.yaml", false}, s.openapi},
	}
}

// Routes lists the served endpoints (the OpenAPI test compares them).
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.routes() {
		out = append(out, r.Route)
	}
	return out
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Outbox == nil || cfg.Auth == nil {
		return nil, errors.New("api: Store, Outbox and Auth are required")
	}
	if cfg.Tenants == nil {
		cfg.Tenants = &Tenants{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), paths: http.NewServeMux(),
		requests: cfg.Metrics.NewCounter("xagw_http_requests_total", "API requests by route and status code.", "route", "code"),
		latency:  cfg.Metrics.NewHistogram("xagw_http_request_seconds", "API request latency by route.", metrics.DefaultLatencyBuckets, "route"),
		unauth:   cfg.Metrics.NewCounter("xagw_http_unauthenticated_total", "Requests rejected for missing or bad credentials."),
	}
	seenPath := map[string]bool{}
	for _, rt := range s.routes() {
		rt := rt
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt.Route, rt.h))
		if !seenPath[rt.Path] {
			seenPath[rt.Path] = true
			s.paths.Handle(rt.Path, http.NotFoundHandler())
		}
	}
	return s, nil
}

// Handler returns the API's root handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pat := s.mux.Handler(r); pat != "" {
			s.mux.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		code := http.StatusNotFound
		if _, pat := s.paths.Handler(r); pat != "" {
			code = http.StatusMethodNotAllowed
			writeError(w, code, "method_not_allowed", "method "+r.Method+" is not allowed on "+r.URL.Path)
		} else {
			writeError(w, code, "not_found", "no such endpoint: "+r.URL.Path)
		}
		s.requests.Inc("unmatched", strconv.Itoa(code))
		s.latency.ObserveSince(start, "unmatched")
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// wrap adds authentication, body limits, metrics and the access log.
func (s *Server) wrap(rt Route, h handler) http.Handler {
	label := rt.Method + " " + rt.Path
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		var p *Principal
		defer func() {
			if rec := recover(); rec != nil {
				s.cfg.Logger.Error("panic in handler", "route", label, "panic", rec)
				if w.code == 0 {
					writeError(w, http.StatusInternalServerError, "internal", "internal error")
				}
			}
			code := w.code
			if code == 0 {
				code = http.StatusOK
			}
			s.requests.Inc(label, strconv.Itoa(code))
			s.latency.ObserveSince(start, label)
			attrs := []any{"method", r.Method, "route", rt.Path, "path", r.URL.Path, "status", code,
				"duration_ms", time.Since(start).Milliseconds(), "request_bytes", r.ContentLength, "response_bytes", w.bytes}
			if p != nil {
				attrs = append(attrs, "client", p.ClientID)
			}
			if code >= 500 {
				s.cfg.Logger.Error("request", attrs...)
			} else if rt.Auth {
				s.cfg.Logger.Info("request", attrs...)
			} else {
				s.cfg.Logger.Debug("request", attrs...)
			}
		}()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		if rt.Auth {
			var err error
			p, err = s.cfg.Auth.Authenticate(r)
			if err != nil {
				s.unauth.Inc()
				// Method, path and peer only: the body is never read.
				s.cfg.Logger.Warn("unauthenticated request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
				w.Header().Set("WWW-Authenticate", `Bearer realm="xagw"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid credentials: send 'Authorization: Bearer <token>' or a registered client certificate")
				return
			}
		}
		h(w, r, p)
	})
}

// ErrorBody is the JSON error envelope.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo describes one error.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, errCode, msg string, details ...any) {
	info := ErrorInfo{Code: errCode, Message: msg}
	if len(details) == 1 {
		info.Details = details[0]
	} else if len(details) > 1 {
		info.Details = details
	}
	writeJSON(w, code, ErrorBody{Error: info})
}

// internal logs err (which never contains bodies: store and codec errors
// name ids and positions) and answers 500 without detail.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error; the incident is logged")
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *Principal) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	if err := s.cfg.Store.Ping(ctx); err != nil {
		checks["database"] = err.Error()
		ready = false
	} else {
		checks["database"] = "ok"
	}
	for name, fn := range s.cfg.Ready {
		if err := fn(ctx); err != nil {
			checks[name] = err.Error()
			ready = false
		} else {
			checks[name] = "ok"
		}
	}
	if !ready {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not_ready", "checks": checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ *Principal) {
	s.cfg.Metrics.Handler().ServeHTTP(w, r)
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *Principal) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPI)
}

func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		return 0, errors.New("limit must be an integer from 1 to 500")
	}
	return n, nil
}

func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}
