package testvectors

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
)

// The OSCI vectors are the real messages of the project's own OSCI client,
// test intermediary and passive recipient, recorded while they run every
// scenario in one process on the kit PKI. Generation is made reproducible
// by three test-only measures:
//
//   - a fixed clock (the kit's reference time) for the intermediary;
//   - seeded randomness: crypto/rand.Reader is replaced, for the duration
//     of a scenario, by the kit's DRBG keyed with the scenario's name
//     (session keys, IVs, OAEP seeds, MIME boundaries, challenges,
//     message and conversation ids all come from crypto/rand);
//   - HTTP over an in-memory transport that calls the handlers in the
//     caller's goroutine, so every random draw happens in one fixed order.
//
// ADAPTER: swapping crypto/rand.Reader is how the kit gets "fixed test
// randomness" from packages that offer no random-source option (osci,
// osci/xmlenc, osci/wire, osci/intermediary read crypto/rand directly). It
// is process-wide, so it is only done by the generator (a short-lived
// command or a test that runs nothing else at the time), never by anything
// that serves real traffic. An explicit Rand option in those packages would
// replace it; see docs/notes/issue-6.md.

// seededRand runs f with crypto/rand.Reader replaced by the kit DRBG for
// name. It must not be called concurrently with anything that needs real
// randomness.
func seededRand(seed []byte, name string, f func() error) error {
	randMu.Lock()
	defer randMu.Unlock()
	old := rand.Reader
	rand.Reader = newDRBG(seed, name)
	defer func() { rand.Reader = old }()
	return f()
}

var randMu sync.Mutex

// exchange is one recorded HTTP request and its response.
type exchange struct {
	hop      string // "sender", "abh", "intermediary→recipient", …
	request  []byte
	response []byte
	status   int
}

// recorder collects exchanges in the order they complete.
type recorder struct {
	mu  sync.Mutex
	all []exchange
}

func (r *recorder) add(x exchange) {
	r.mu.Lock()
	r.all = append(r.all, x)
	r.mu.Unlock()
}

func (r *recorder) since(i int) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.all[i:]...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// handlerTransport is an http.RoundTripper that serves a request with a
// handler in the calling goroutine and records both bodies.
type handlerTransport struct {
	h   http.Handler
	rec *recorder
	hop string
}

func (t *handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	in := req.Clone(req.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	in.RequestURI = req.URL.RequestURI()
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, in)
	resp := w.Result()
	out := w.Body.Bytes()
	t.rec.add(exchange{hop: t.hop, request: body, response: out, status: resp.StatusCode})
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Request = req
	return resp, nil
}

// passiveURI is the ContentReceiver URI of the kit's passive recipient.
const passiveURI = "urn:xagw:conformance:abh-passive"

// world is the in-process OSCI setup the vectors are recorded from.
type world struct {
	pki    *kitPKI
	dir    string
	rec    *recorder
	im     *intermediary.Intermediary
	quiet  *slog.Logger
	answer []byte // the passive recipient's answer to processDelivery
}

func newWorld(pki *kitPKI, answer []byte) (*world, error) {
	dir, err := os.MkdirTemp("", "xagw-testvectors-*")
	if err != nil {
		return nil, err
	}
	w := &world{pki: pki, dir: dir, rec: &recorder{}, quiet: slog.New(slog.NewTextHandler(io.Discard, nil)), answer: answer}
	recipient, err := osci.NewRecipient(osci.RecipientConfig{
		Signer:                pki.mustIdentity(entABHSig),
		Cipher:                pki.mustIdentity(entABHCipher),
		IntermediarySignature: pki.cert(entIntermediarySig),
		Policy:                pki.policy(),
		Accept:                func(context.Context, *osci.Opened) error { return nil },
		Process: func(_ context.Context, o *osci.Opened) (*osci.Delivery, error) {
			return &osci.Delivery{Subject: "130104", Containers: []osci.ContentContainer{{
				Sign: true, EncryptFor: []*x509.Certificate{o.Message.Cert(osci.CipherCertificateOriginator)},
				Contents: []osci.Content{{Data: w.answer}},
			}}}, nil
		},
		SpoolDir: dir,
		Logger:   w.quiet,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	im, err := intermediary.New(intermediary.Config{
		DataDir:    dir,
		Signer:     pki.mustIdentity(entIntermediarySig),
		Cipher:     pki.mustIdentity(entIntermediaryCipher),
		Policy:     pki.policy(),
		Recipients: map[string]string{passiveURI: "http://abh-passive.invalid/osci"},
		HTTPClient: &http.Client{Transport: &handlerTransport{h: recipient, rec: w.rec, hop: "intermediary→recipient"}},
		SpoolDir:   dir,
		Logger:     w.quiet,
		Now:        func() time.Time { return ReferenceTime },
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	w.im = im
	return w, nil
}

func (w *world) close() {
	if w.im != nil {
		w.im.Close()
	}
	os.RemoveAll(w.dir)
}

// client returns an OSCI client of the world for the given signature and
// cipher entities.
func (w *world) client(hop, sig, cipher string, method string) (*osci.Client, error) {
	return osci.NewClient(osci.Config{
		URL:                   "http://intermediary.invalid/osci",
		IntermediaryCipher:    w.pki.cert(entIntermediaryCipher),
		IntermediarySignature: w.pki.cert(entIntermediarySig),
		Signer:                w.pki.mustIdentity(sig),
		Cipher:                w.pki.mustIdentity(cipher),
		Policy:                w.pki.policy(),
		SignatureMethod:       method,
		HTTPClient:            &http.Client{Transport: &handlerTransport{h: w.im, rec: w.rec, hop: hop}},
		SpoolDir:              w.dir,
		Logger:                w.quiet,
		Now:                   func() time.Time { return ReferenceTime },
	})
}

// recordedMessage is one message of a recorded exchange.
type recordedMessage struct {
	data      []byte
	typ       osci.MessageType
	transport string // entity whose key removes the transport encryption
}

// identify opens a recorded message with every cipher key of the kit to
// learn its type and transport key (no policy: this is bookkeeping, the
// vector's own check comes later).
func (w *world) identify(data []byte) (recordedMessage, error) {
	var keys []*keystore.Identity
	for _, name := range []string{entIntermediaryCipher, entSenderCipher, entABHCipher, entABHCipher2048, entReaderCipher} {
		keys = append(keys, w.pki.mustIdentity(name))
	}
	o, err := osci.Open(bytes.NewReader(data), osci.OpenOptions{Keys: keys, SpoolDir: w.dir})
	if o == nil {
		return recordedMessage{}, fmt.Errorf("recorded message does not open: %w", err)
	}
	defer o.Close()
	if err != nil {
		return recordedMessage{}, fmt.Errorf("recorded %s does not verify: %w", o.Type, err)
	}
	m := recordedMessage{data: data, typ: o.Type}
	if o.Transport != nil {
		m.transport = w.pki.nameOf(o.Transport.Recipient)
	}
	return m, nil
}

// scenario runs f with seeded randomness and returns the messages it sent
// and received, requests and responses in the order they completed.
func (w *world) scenario(name string, f func(ctx context.Context) error) ([]recordedMessage, error) {
	start := w.rec.len()
	err := seededRand([]byte(KitSeed), "osci-scenario/"+name, func() error { return f(context.Background()) })
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	var out []recordedMessage
	for _, x := range w.rec.since(start) {
		if x.status != http.StatusOK {
			return nil, fmt.Errorf("scenario %s: %s answered HTTP %d", name, x.hop, x.status)
		}
		for _, data := range [][]byte{x.request, x.response} {
			m, err := w.identify(data)
			if err != nil {
				return nil, fmt.Errorf("scenario %s (%s): %w", name, x.hop, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// pick returns the first recorded message of type t.
func pick(ms []recordedMessage, t osci.MessageType) (recordedMessage, error) {
	for _, m := range ms {
		if m.typ == t {
			return m, nil
		}
	}
	return recordedMessage{}, fmt.Errorf("no %s recorded", t)
}

// pickLast returns the last recorded message of type t.
func pickLast(ms []recordedMessage, t osci.MessageType) (recordedMessage, error) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].typ == t {
			return ms[i], nil
		}
	}
	return recordedMessage{}, fmt.Errorf("no %s recorded", t)
}
