package dvdv

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of failure. Every error of this package wraps exactly one of them
// (test with errors.Is); the *Error carrying it says what was asked, which
// server answered, and what the directory said, in words fit for a log line
// an operator reads.
var (
	// ErrNoService: the organisation offers no currently valid service with
	// that URI (HTTP 204 or 404 problem 5005). Functional, not retried on
	// another server.
	ErrNoService = errors.New("no valid service")
	// ErrUnknownOrganization: no organisation with that key (and category).
	ErrUnknownOrganization = errors.New("organisation not found")
	// ErrNotFound: some other record (a certificate) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: the request is invalid (HTTP 400 from the directory, or
	// rejected before sending).
	ErrBadRequest = errors.New("invalid request")
	// ErrUnauthorized: the directory refused the client's credentials (token
	// endpoint or directory answered 401/403).
	ErrUnauthorized = errors.New("authentication with the directory failed")
	// ErrUnavailable: no configured server gave a usable answer (connection
	// failures, timeouts, 5xx, malformed answers). Transient by nature.
	ErrUnavailable = errors.New("directory unavailable")
	// ErrMalformedResponse: a server's answer could not be understood. Within
	// ErrUnavailable it names what each server sent.
	ErrMalformedResponse = errors.New("malformed answer from the directory")
	// ErrIncompleteService: the service description lacks what an OSCI
	// delivery needs (an intermediary URL, an addressee cipher certificate …).
	ErrIncompleteService = errors.New("service description incomplete")
	// ErrNoUsableCertificate: every certificate published for a role is
	// revoked, expired, not yet valid or broken. The error also wraps the
	// specific reasons below.
	ErrNoUsableCertificate = errors.New("no usable certificate")
	// ErrCertificateRevoked: the certificate has a revocation date or reason.
	ErrCertificateRevoked = errors.New("certificate revoked")
	// ErrCertificateExpired: now is outside the certificate's validity
	// (directory record or X.509).
	ErrCertificateExpired = errors.New("certificate outside its validity period")
	// ErrCertificateInvalid: the certificate cannot be parsed, or its
	// published fingerprint does not match its content.
	ErrCertificateInvalid = errors.New("certificate invalid")
)

// Error is the error type of this package.
type Error struct {
	// Op is the query ("findservicedescription", "lookup", "token", …).
	Op string
	// Kind is one of the Err* values above.
	Kind error
	// Organization and ServiceURI name what was asked for, when known.
	Organization string
	ServiceURI   string
	// Reason is this package's explanation, in English.
	Reason string
	// Warning is the decoded dvdv-warning-msg header of a 204 answer.
	Warning string
	// Problem is the problem+json body of a 400/404 answer.
	Problem *Problem
	// Server and Status identify the answer, when there was one.
	Server string
	Status int
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dvdv")
	if e.Op != "" {
		b.WriteString(" " + e.Op)
	}
	b.WriteString(": ")
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("error")
	}
	if e.ServiceURI != "" {
		fmt.Fprintf(&b, " for service %s", e.ServiceURI)
	}
	if e.Organization != "" {
		fmt.Fprintf(&b, " of organisation %s", e.Organization)
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Warning != "" {
		fmt.Fprintf(&b, "; the directory says: %q", e.Warning)
	}
	if e.Problem != nil {
		fmt.Fprintf(&b, "; the directory says: %q", e.Problem.String())
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Server != "" || e.Status != 0 {
		b.WriteString(" (")
		if e.Status != 0 {
			fmt.Fprintf(&b, "HTTP %d", e.Status)
			if e.Server != "" {
				b.WriteString(" from ")
			}
		}
		b.WriteString(e.Server)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap exposes the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Retryable reports whether asking again later, without changing the
// request, may succeed: true when the directory could not be asked or
// refused our credentials (an operator can fix that without touching the
// message), false when it answered that there is no (usable) route or that
// the request is invalid. Callers such as the gateway's delivery workers
// use it to decide between retrying and failing a message.
func (e *Error) Retryable() bool {
	switch {
	case errors.Is(e.Kind, ErrUnavailable), errors.Is(e.Kind, ErrUnauthorized), errors.Is(e.Kind, ErrMalformedResponse):
		return true
	}
	return false
}

// Code is a short, stable name of the failure kind for metrics and logs.
func (e *Error) Code() string {
	for _, k := range []struct {
		kind error
		code string
	}{
		{ErrNoService, "dvdv_no_service"}, {ErrUnknownOrganization, "dvdv_unknown_organization"},
		{ErrNotFound, "dvdv_not_found"}, {ErrBadRequest, "dvdv_bad_request"},
		{ErrUnauthorized, "dvdv_unauthorized"}, {ErrUnavailable, "dvdv_unavailable"},
		{ErrMalformedResponse, "dvdv_malformed_response"}, {ErrIncompleteService, "dvdv_incomplete_service"},
		{ErrNoUsableCertificate, "dvdv_no_usable_certificate"},
	} {
		if errors.Is(e.Kind, k.kind) {
			return k.code
		}
	}
	return "dvdv_error"
}

// IsNegative reports whether err says the directory has no (usable) answer,
// as opposed to a failure to ask: no service, no organisation, no record, no
// usable certificate, incomplete service. Negative answers are cached for a
// short time and are not retried on other servers.
func IsNegative(err error) bool {
	return errors.Is(err, ErrNoService) || errors.Is(err, ErrUnknownOrganization) ||
		errors.Is(err, ErrNotFound) || errors.Is(err, ErrIncompleteService) ||
		errors.Is(err, ErrNoUsableCertificate)
}

// IsTemporary reports whether asking again later may succeed without any
// change of configuration or data.
func IsTemporary(err error) bool { return errors.Is(err, ErrUnavailable) }
