package osci

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/xagw/xagw/osci/keystore"
)

// Config configures a Client.
type Config struct {
	// URL is the intermediary's endpoint.
	URL string
	// IntermediaryCipher is the intermediary's cipher certificate (from the
	// DVDV): requests are transport-encrypted to it.
	IntermediaryCipher *x509.Certificate
	// IntermediarySignature, if set, is the only certificate accepted for
	// the SupplierSignature of responses. Without it the signer must be the
	// response's SignatureCertificateIntermediary, pass Policy, and either
	// be one of AcceptIntermediarySignatures or come from the operator of
	// IntermediaryCipher (same issuing CA and organisation).
	IntermediarySignature *x509.Certificate
	// AcceptIntermediarySignatures are signature certificates the operator
	// vouches for as intermediaries' (for intermediaries whose DVDV entry
	// publishes none), used when IntermediarySignature is not set.
	AcceptIntermediarySignatures []*x509.Certificate
	// Signer signs requests (ClientSignature) and content containers.
	Signer *keystore.Identity
	// Cipher is our cipher identity: responses are transport-encrypted to
	// it and content addressed to us is decrypted with it.
	Cipher *keystore.Identity
	// Policy checks the certificates of the intermediary and of content
	// signers. Required unless IntermediarySignature pins the intermediary.
	Policy *keystore.Policy
	// SignatureMethod is the XML-DSig method ("" = rsa-sha256).
	SignatureMethod string
	// PlainTransport sends requests without transport encryption. Only for
	// tests against intermediaries that do not decrypt; never in production.
	PlainTransport bool
	// HTTPClient performs the requests (default: a client with a 5-minute
	// timeout). Context cancellation always applies. A client without its
	// own Transport gets one that keeps up to 64 idle connections per
	// intermediary instead of http.DefaultTransport's two.
	HTTPClient *http.Client
	// Languages is DesiredLanguages ("de" by default).
	Languages string
	// SpoolDir holds large attachments of responses (encrypted, temporary).
	SpoolDir string
	// Logger receives one structured line per exchange (no bodies, no
	// personal data). Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Client talks OSCI 1.2 to one intermediary. It is safe for concurrent use:
// orders in implicit dialogs run independently; an explicit dialog
// (Session) serialises its own orders.
type Client struct {
	cfg Config
	log *slog.Logger
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("osci: Config.URL is empty")
	case cfg.Signer == nil || cfg.Signer.Certificate == nil || cfg.Signer.Key == nil:
		return nil, errors.New("osci: Config.Signer needs a certificate and a key")
	case cfg.Cipher == nil || cfg.Cipher.Certificate == nil || cfg.Cipher.Key == nil:
		return nil, errors.New("osci: Config.Cipher needs a certificate and a key")
	case cfg.IntermediaryCipher == nil && !cfg.PlainTransport:
		return nil, errors.New("osci: Config.IntermediaryCipher is required for transport encryption")
	case cfg.IntermediarySignature == nil && cfg.Policy == nil:
		return nil, errors.New("osci: set Config.IntermediarySignature or Config.Policy: responses must be verifiable")
	}
	if _, err := cfg.Cipher.Decrypter(); err != nil {
		return nil, fmt.Errorf("osci: Config.Cipher: %w", err)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Minute}
	}
	if cfg.HTTPClient.Transport == nil {
		// http.DefaultTransport keeps two idle connections per host; a
		// gateway sends with more workers than that to one intermediary and
		// would open a new connection for most orders. A copy of the
		// caller's client, so the caller's value is left alone.
		hc := *cfg.HTTPClient
		hc.Transport = keepAliveTransport
		cfg.HTTPClient = &hc
	}
	if cfg.Languages == "" {
		cfg.Languages = "de"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Client{cfg: cfg, log: log.With("component", "osci.client")}, nil
}

// keepAliveTransport is http.DefaultTransport with enough idle connections
// per intermediary for concurrent orders, and a write buffer that holds a
// typical request whole (see postOSCI).
var keepAliveTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.WriteBufferSize = inMemoryRequest + 4<<10
	return t
}()

// inMemoryRequest is the largest request postOSCI hands to the transport
// as bytes.
const inMemoryRequest = 60 << 10

// originatorCerts returns the certificate entries that identify us.
func (c *Client) originatorCerts(withCipher bool) []CertEntry {
	var out []CertEntry
	if withCipher {
		out = append(out, CertEntry{CipherCertificateOriginator, CertID("originator", "cipher", c.cfg.Cipher.Certificate), c.cfg.Cipher.Certificate})
	}
	return append(out, CertEntry{SignatureCertificateOriginator, c.signerCertID(), c.cfg.Signer.Certificate})
}

func (c *Client) signerCertID() string {
	return CertID("originator", "signature", c.cfg.Signer.Certificate)
}

func (c *Client) signing() *Signing {
	return &Signing{Identity: c.cfg.Signer, Method: c.cfg.SignatureMethod}
}

// request is one order on its way.
type request struct {
	msg     *Message
	content *builtContent // nil for orders without content
}

// exchange sends one order within dialog d (nil = implicit) and returns the
// verified, decrypted response. Feedback errors are returned as
// *FeedbackError together with the opened response.
func (c *Client) exchange(ctx context.Context, d *Dialog, req *request) (*Opened, error) {
	m := req.msg
	m.Languages = c.cfg.Languages
	if m.Features == nil {
		m.Features = &FeatureDescription{Features: DefaultFeatures}
	}
	if d != nil && d.explicit {
		d.mu.Lock()
		defer d.mu.Unlock()
		cb, err := d.nextRequest(m.Type)
		if err != nil {
			return nil, err
		}
		m.ControlBlock = cb
	} else if m.Type != TypeInitDialog {
		if m.Type.NeedsExplicitDialog() {
			return nil, fmt.Errorf("osci: %s needs an explicit dialog", m.Type)
		}
		m.ControlBlock = implicitRequest(m.Type)
	}
	in := sealInput{msg: m, role: signerRole{block: "ClientSignature", certRef: c.signerCertID()}, signing: c.signing(), spoolDir: c.cfg.SpoolDir}
	if req.content != nil {
		in.content, in.attachments, in.closers = req.content.xml, req.content.attachments, req.content.closers
		in.contentTrees = req.content.trees
		req.content.closers = nil
	}
	if !c.cfg.PlainTransport {
		in.transportTo = c.cfg.IntermediaryCipher
	}
	out, err := seal(in)
	if err != nil {
		return nil, err
	}
	defer out.Close()

	start := time.Now()
	resp, err := c.post(ctx, out)
	attrs := []any{"type", m.Type.String(), "duration_ms", time.Since(start).Milliseconds()}
	if m.MessageID != "" {
		attrs = append(attrs, "message_id", m.MessageID)
	}
	if err != nil {
		c.log.WarnContext(ctx, "osci exchange failed", append(attrs, "error", err)...)
		return nil, err
	}
	defer resp.Body.Close()
	body := &readErrBody{r: resp.Body}
	o, err := Open(body, OpenOptions{
		Keys:     []*keystore.Identity{c.cfg.Cipher},
		Policy:   c.cfg.Policy,
		Signer:   c.cfg.IntermediarySignature,
		SpoolDir: c.cfg.SpoolDir,
	})
	if o != nil && o.Type == TypeFault && o.Fault != nil {
		c.log.WarnContext(ctx, "osci fault", append(attrs, "code", o.Fault.Code())...)
		o.Close()
		return nil, o.Fault
	}
	// Not an OSCI fault: a status other than 200 (a proxy's 502 page, say)
	// is reported as such, so that Retryable sees a server error rather
	// than an unparseable body; a connection lost while reading is a
	// TransportError, not a malformed response.
	if resp.StatusCode != http.StatusOK || body.err != nil {
		if o != nil {
			o.Close()
		}
		c.log.WarnContext(ctx, "osci exchange failed", append(attrs, "status", resp.StatusCode, "error", err)...)
		if resp.StatusCode != http.StatusOK {
			return nil, &HTTPError{Status: resp.StatusCode}
		}
		return nil, &TransportError{Err: body.err}
	}
	if err != nil {
		if o != nil {
			o.Close()
		}
		c.log.WarnContext(ctx, "osci response rejected", append(attrs, "error", err)...)
		return nil, fmt.Errorf("osci: response to %s: %w", m.Type, err)
	}
	if err := c.checkResponse(d, m, out, o); err != nil {
		o.Close()
		c.log.WarnContext(ctx, "osci response rejected", append(attrs, "error", err)...)
		return nil, err
	}
	attrs = append(attrs, "feedback", feedbackCodes(o.Feedback))
	if err := o.Feedback.Err(); err != nil {
		// The response verified and answers this request: its feedback
		// is the intermediary's word (FeedbackError.Refused relies on it).
		fe := err.(*FeedbackError)
		fe.Verified = true
		if noneSelected(fe, CodeNoProcessCard) || noneSelected(fe, CodeNoDelivery) {
			// An empty mailbox or selection is an answer, not a failure.
			c.log.DebugContext(ctx, "osci order: nothing selected", attrs...)
		} else {
			c.log.WarnContext(ctx, "osci order failed", attrs...)
		}
		return o, fe
	}
	c.log.InfoContext(ctx, "osci exchange", attrs...)
	return o, nil
}

// checkSupplier binds the SupplierSignature of a response to the
// intermediary this client talks to. With Config.IntermediarySignature the
// signer must be that certificate (Open checks it). Without it, Open has
// already required the certificate of the response's
// SignatureCertificateIntermediary element and the Policy; in addition it
// must come from the operator of the intermediary's cipher certificate
// (which the DVDV publishes): the same issuing CA and the same
// organisation. Any other PKI member's certificate fails, so "signed by
// some participant" is not taken for "signed by this intermediary".
func (c *Client) checkSupplier(o *Opened) error {
	if c.cfg.IntermediarySignature != nil || c.cfg.IntermediaryCipher == nil || o.Signature == nil || o.Signature.Signer == nil {
		return nil
	}
	sig, cipher := o.Signature.Signer, c.cfg.IntermediaryCipher
	for _, a := range c.cfg.AcceptIntermediarySignatures {
		if bytes.Equal(a.Raw, sig.Raw) {
			return nil
		}
	}
	if bytes.Equal(sig.RawIssuer, cipher.RawIssuer) && len(cipher.Subject.Organization) > 0 &&
		slices.Equal(sig.Subject.Organization, cipher.Subject.Organization) {
		return nil
	}
	return &SignatureError{Block: "SupplierSignature", Err: fmt.Errorf("%w: signed by %s (issuer %s), which is not the operator of the intermediary's cipher certificate %s (issuer %s); pin the intermediary's signature certificate",
		ErrUnboundIntermediary, sig.Subject, sig.Issuer, cipher.Subject, cipher.Issuer)}
}

// ErrUnboundIntermediary: a response without a pinned intermediary
// signature certificate was signed by a certificate that cannot be tied to
// the intermediary (Client.checkSupplier).
var ErrUnboundIntermediary = errors.New("SupplierSignature certificate not tied to the intermediary")

func feedbackCodes(f Feedback) string {
	var b bytes.Buffer
	for i, e := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(e.Code))
	}
	return b.String()
}

// checkResponse makes sure the response answers this request: the right
// type, the ControlBlock (challenge echo, conversation, sequence), and
// transport encryption when the request was encrypted.
func (c *Client) checkResponse(d *Dialog, m *Message, out *Outgoing, o *Opened) error {
	if o.Type != m.Type.Response() {
		return fmt.Errorf("osci: %s answered with %s", m.Type, o.Type)
	}
	if err := c.checkSupplier(o); err != nil {
		return err
	}
	if out.TransportEncrypted && o.Transport == nil {
		return fmt.Errorf("osci: response to a transport-encrypted %s is not encrypted", m.Type)
	}
	conv := ""
	if d != nil && d.explicit {
		conv = d.convID
	}
	if err := checkResponse(o.Type, m.ControlBlock, o.ControlBlock, conv); err != nil {
		return err
	}
	if d != nil && d.explicit {
		d.advance(o.ControlBlock)
	}
	return nil
}

// HTTPError is an HTTP status other than 200 without an OSCI fault body.
type HTTPError struct{ Status int }

func (e *HTTPError) Error() string {
	return fmt.Sprintf("osci: intermediary answered HTTP %d", e.Status)
}

// Retryable: server-side and throttling statuses are.
func (e *HTTPError) Retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// post sends out to the intermediary. OSCI bodies are complete MIME
// entities; the HTTP Content-Type is text/xml as the reference sends it.
func (c *Client) post(ctx context.Context, out *Outgoing) (*http.Response, error) {
	return postOSCI(ctx, c.cfg.HTTPClient, c.cfg.URL, out)
}

func postOSCI(ctx context.Context, hc *http.Client, url string, out *Outgoing) (*http.Response, error) {
	n, err := out.Len()
	if err != nil {
		return nil, err
	}
	if n <= inMemoryRequest {
		// A request of a few tens of kilobytes (most) is written out
		// first: the transport then sends headers and body from its write
		// buffer in one system call (keepAliveTransport), where a stream
		// costs a flush of the headers, a 32 KiB copy buffer and a call
		// per 32 KiB.
		var b bytes.Buffer
		b.Grow(int(n))
		if _, err := out.WriteTo(&b); err != nil {
			return nil, err
		}
		data := b.Bytes()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return doOSCI(hc, req)
	}
	body, err := out.Reader()
	if err != nil {
		return nil, err
	}
	// The transport writes the headers, then hands the body to the
	// connection, which makes one write system call per Read. The MIME
	// stream answers a Read with one small piece at a time (part headers,
	// boundaries, ciphertext chunks); fullReader fills each buffer the
	// transport offers, so a typical request is two or three writes instead
	// of seven. (It also hides io.MultiReader's WriteTo, which allocates
	// 32 KiB per call.)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &fullReader{r: body})
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	req.GetBody = func() (io.ReadCloser, error) {
		r, err := out.Reader()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(&fullReader{r: r}), nil
	}
	return doOSCI(hc, req)
}

// doOSCI sends an OSCI request with the headers the reference sends; a
// failure to get a response is a TransportError.
func doOSCI(hc *http.Client, req *http.Request) (*http.Response, error) {
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &TransportError{Err: err}
	}
	return resp, nil
}

// fullReader fills p completely on every Read unless the stream ends or
// fails first.
type fullReader struct{ r io.Reader }

func (f *fullReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = nil // a short last read; the next Read reports io.EOF
	}
	return n, err
}

// readErrBody remembers the first read error of a response body other than
// io.EOF.
type readErrBody struct {
	r   io.Reader
	err error
}

func (b *readErrBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// TransportError is a network failure (connection refused, timeout, reset).
// Whether the intermediary processed the order is unknown: for storeDelivery
// ask the process card before resending.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "osci: transport: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// Retryable is true unless the context was cancelled by the caller.
func (e *TransportError) Retryable() bool { return !errors.Is(e.Err, context.Canceled) }
