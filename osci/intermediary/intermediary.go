// Package intermediary is a real, durable OSCI 1.2 intermediary for tests
// and local use: mailboxes per addressee cipher certificate, message ids,
// explicit and implicit dialogs, storeDelivery / fetchDelivery /
// fetchProcessCard, forwardDelivery (pushed to a registered passive
// recipient as acceptDelivery), mediateDelivery (processDelivery to the
// recipient, its answer relayed), partial (chunked) store and fetch, and
// process cards with creation, forwarding and reception times.
//
// Every response is signed (SupplierSignature) and transport-encrypted to
// the client's cipher certificate when the request was encrypted. State is
// kept in SQLite (WAL) and attachment files in a data folder, so a restart
// loses nothing. The intermediary never sees content: it relays the
// encrypted ContentPackage and attachments as they arrived.
package intermediary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
)

// Config configures an Intermediary.
type Config struct {
	// DataDir holds the database and attachment files. Required.
	DataDir string
	// Signer is the intermediary's signature identity (SupplierSignature,
	// and ClientSignature of acceptDelivery/processDelivery).
	Signer *keystore.Identity
	// Cipher is the intermediary's cipher identity (transport decryption).
	Cipher *keystore.Identity
	// Policy checks the certificates of clients and passive recipients
	// (validity, usage, chain, revocation). Nil accepts any certificate
	// whose signature verifies; inspections then report "indeterminate".
	Policy *keystore.Policy
	// Recipients maps ContentReceiver URIs of forward/mediate orders to the
	// endpoints the intermediary pushes to. Orders for other URIs are
	// refused: the intermediary never connects to an address a client chose.
	Recipients map[string]string
	// HTTPClient pushes to passive recipients (default: 2-minute timeout).
	HTTPClient *http.Client
	// MaxMessage bounds one request (default 512 MiB).
	MaxMessage int64
	// Chunk limits for partial messages, in KB (defaults 1024, 50 MiB, 4 KB)
	// and the time a chunked upload may take (default 1 h).
	MaxChunkKB, MinChunkKB int64
	ChunkTimeout           time.Duration
	// Retention is how long deliveries are kept after their last change
	// (default 30 days; PurgeExpired removes older ones).
	Retention time.Duration
	// Schemas, if set, validates every incoming envelope against the OSCI
	// XSDs (9100 on failure).
	Schemas *osci.Schemas
	// SpoolDir holds large requests while they are processed.
	SpoolDir string
	Logger   *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Intermediary is an http.Handler speaking OSCI 1.2.
type Intermediary struct {
	cfg   Config
	st    *store
	log   *slog.Logger
	sigID string
	inter []osci.CertEntry // IntermediaryCertificates of responses
	feat  *osci.FeatureDescription
}

// New opens (or creates) the intermediary's data folder.
func New(cfg Config) (*Intermediary, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("intermediary: Config.DataDir is empty")
	}
	if cfg.Signer == nil || cfg.Cipher == nil {
		return nil, errors.New("intermediary: Config.Signer and Config.Cipher are required")
	}
	if _, err := cfg.Cipher.Decrypter(); err != nil {
		return nil, fmt.Errorf("intermediary: cipher key: %w", err)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 2 * time.Minute}
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 512 << 20
	}
	if cfg.MaxChunkKB <= 0 {
		cfg.MaxChunkKB = 50 << 10
	}
	if cfg.MinChunkKB <= 0 {
		cfg.MinChunkKB = 4
	}
	if cfg.ChunkTimeout <= 0 {
		cfg.ChunkTimeout = time.Hour
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	st, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	sig := cfg.Signer.Certificate
	im := &Intermediary{cfg: cfg, st: st, log: log.With("component", "osci.intermediary"),
		sigID: osci.CertID("intermed", "signature", sig)}
	im.inter = []osci.CertEntry{{Element: osci.SignatureCertificateIntermediary, ID: im.sigID, Cert: sig}}
	im.feat = &osci.FeatureDescription{Features: osci.DefaultFeatures, MaxChunkSize: cfg.MaxChunkKB, MinChunkSize: cfg.MinChunkKB,
		MaxMessageSize: cfg.MaxMessage >> 10, ChunkMessageTimeOut: int64(cfg.ChunkTimeout / time.Second)}
	return im, nil
}

// Close closes the database.
func (im *Intermediary) Close() error { return im.st.close() }

// PurgeExpired removes deliveries unchanged for longer than the retention.
func (im *Intermediary) PurgeExpired(ctx context.Context) (int, error) {
	return im.st.purge(ctx, im.cfg.Now().Add(-im.cfg.Retention))
}

func certHash(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// call is one request being processed.
type call struct {
	ctx     context.Context
	req     *osci.Opened
	verr    error             // verification failure (answered with order-level feedback)
	client  *x509.Certificate // signature certificate of the client
	replyTo *x509.Certificate // cipher certificate the response is encrypted to (nil: plain)
	dlg     *dialog           // explicit dialog, nil for implicit ones
	resp    *osci.Message     // the response being built
	content *osci.RawContent  // response content
	closers []io.Closer
}

func (c *call) close() {
	for _, cl := range c.closers {
		cl.Close()
	}
}

// ServeHTTP handles one OSCI request.
func (im *Intermediary) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "OSCI expects POST", http.StatusMethodNotAllowed)
		return
	}
	start := time.Now() // wall time for the log, whatever Config.Now says
	body := http.MaxBytesReader(w, r.Body, im.cfg.MaxMessage)
	o, err := osci.Open(body, im.openOptions())
	if o == nil {
		im.log.WarnContext(r.Context(), "unreadable request", "error", err)
		osci.WriteFault(w, faultCode(err), "")
		return
	}
	defer o.Close()
	c := &call{ctx: r.Context(), req: o, verr: err}
	defer c.close()
	out, code, err := im.handle(c)
	attrs := []any{"type", o.Type.String(), "duration_ms", time.Since(start).Milliseconds()}
	if o.MessageID != "" {
		attrs = append(attrs, "message_id", o.MessageID)
	}
	if code != "" {
		im.log.WarnContext(r.Context(), "osci fault", append(attrs, "code", string(code), "error", err)...)
		osci.WriteFault(w, code, "")
		return
	}
	defer out.Close()
	attrs = append(attrs, "feedback", codes(c.resp.Feedback))
	im.log.InfoContext(r.Context(), "osci order", attrs...)
	if err := osci.WriteOutgoing(w, out); err != nil {
		im.log.WarnContext(r.Context(), "writing response", "error", err)
	}
}

func codes(f osci.Feedback) string {
	s := make([]string, len(f))
	for i, e := range f {
		s[i] = string(e.Code)
	}
	return strings.Join(s, ",")
}

func (im *Intermediary) openOptions() osci.OpenOptions {
	return osci.OpenOptions{Keys: []*keystore.Identity{im.cfg.Cipher}, Policy: im.cfg.Policy, SpoolDir: im.cfg.SpoolDir}
}

// faultCode maps an Open failure that left no usable envelope to a fault.
func faultCode(err error) osci.Code {
	var de *osci.DecryptError
	if errors.As(err, &de) {
		return osci.Code(de.Code())
	}
	return osci.CodeStructureInvalid
}

// handle processes the request and returns the response, or a fault code.
func (im *Intermediary) handle(c *call) (*osci.Outgoing, osci.Code, error) {
	o := c.req
	if !o.Type.IsRequest() || o.Type == osci.TypeAcceptDelivery || o.Type == osci.TypeProcessDelivery {
		return nil, osci.CodeNoValidOrderData, fmt.Errorf("%s is not an order for an intermediary", o.Type)
	}
	if im.cfg.Schemas != nil {
		if err := im.cfg.Schemas.Validate(o.Type, o.Raw()); err != nil {
			return nil, osci.CodeStructureInvalid, err
		}
	}
	// A DecryptError or ParseError from Open means the request itself is
	// unusable: message level. Signature failures are answered on order
	// level below, signed, so the client learns what failed.
	var de *osci.DecryptError
	if errors.As(c.verr, &de) && o.Signature == nil {
		return nil, osci.Code(de.Code()), c.verr
	}
	// Orders that open a dialog or read a mailbox or process cards travel
	// transport-encrypted only. The initDialog challenge is the proof that
	// the client holds the key of the cipher certificate it names as its
	// mailbox: it proves something only if the response carrying it is
	// encrypted to that certificate. Answering a plain initDialog in plain
	// would let anyone fetch (and so mark received) another's deliveries.
	if o.Transport == nil && needsEncryption(o) && !(o.Type.NeedsExplicitDialog() && o.ControlBlock.ConversationID == "") {
		// (An implicit order that needs a dialog gets 9802 below, which
		// reveals nothing either way.)
		return nil, osci.CodeNoValidOrderData, fmt.Errorf("%s without transport encryption: orders that open dialogs or read mailboxes and process cards must be encrypted to the intermediary", o.Type)
	}
	// The client is whoever verifiably signed the order, never a
	// certificate header the order merely names. Open binds a client
	// order's ClientSignature to its SignatureCertificateOriginator; the
	// comparison below keeps that rule visible here.
	if o.Signature.OK() {
		orig := o.Message.Cert(osci.SignatureCertificateOriginator)
		if orig != nil && bytes.Equal(orig.Raw, o.Signature.Signer.Raw) {
			c.client = o.Signature.Signer
		} else {
			c.verr = errors.Join(c.verr, &osci.SignatureError{Block: "ClientSignature",
				Err: errors.New("the order is not signed with its SignatureCertificateOriginator")})
		}
	}
	// Where the response goes: the client's cipher certificate from this
	// request or from its dialog.
	if o.Transport != nil {
		c.replyTo = o.Message.Cert(osci.CipherCertificateOriginator)
	}
	if code, err := im.dialog(c); code != "" {
		return nil, code, err
	}
	if o.Transport != nil && c.replyTo == nil {
		return nil, osci.CodeNoClientCipherCert, errors.New("encrypted request without the client's cipher certificate")
	}
	c.resp = &osci.Message{Type: o.Type.Response(), Intermediary: im.inter, Features: im.feat}
	c.resp.ControlBlock = im.responseCB(c)
	if c.verr != nil {
		c.resp.Feedback = osci.NewFeedback(osci.Code(orderCode(c.verr)))
	} else if err := im.dispatch(c); err != nil {
		im.log.ErrorContext(c.ctx, "order failed", "type", o.Type.String(), "error", err)
		c.resp.Feedback = osci.NewFeedback(osci.CodeSupplierInternal)
		c.resp.ProcessCards, c.resp.NonIntermediary, c.content = nil, nil, nil
	}
	if err := im.advance(c); err != nil {
		return nil, osci.CodeControlBlock, err
	}
	out, err := osci.Compose(c.resp, osci.ComposeOptions{
		Signing:      &osci.Signing{Identity: im.cfg.Signer},
		SignerCertID: im.sigID,
		TransportTo:  c.replyTo,
		Content:      c.content,
		SpoolDir:     im.cfg.SpoolDir,
	})
	if err != nil {
		return nil, osci.CodeInternalServer, err
	}
	return out, "", nil
}

// needsEncryption reports whether an order must arrive transport-encrypted:
// dialogs (initDialog, exitDialog and every order inside an explicit
// dialog) and the orders that read mailboxes or process cards. Implicit
// getMessageId, storeDelivery, forwardDelivery and partialStoreDelivery
// reveal nothing but their own result and may travel in plain (tests, and
// what the reference library allows).
func needsEncryption(o *osci.Opened) bool {
	switch o.Type {
	case osci.TypeInitDialog, osci.TypeExitDialog, osci.TypeFetchDelivery, osci.TypeFetchProcessCard,
		osci.TypePartialFetchDelivery, osci.TypeMediateDelivery:
		return true
	}
	return o.ControlBlock.ConversationID != ""
}

// orderCode maps a verification failure to the feedback code.
func orderCode(err error) string {
	var se *osci.SignatureError
	if errors.As(err, &se) {
		return se.Code()
	}
	var ce *keystore.CertError
	if errors.As(err, &ce) {
		return string(osci.CodeSigCertInvalid)
	}
	var de *osci.DecryptError
	if errors.As(err, &de) {
		return de.Code()
	}
	return string(osci.CodeNoValidOrderData)
}

// success returns the success feedback: 0801 inside an explicit dialog that
// stays open, 0800 otherwise.
func (c *call) success(extra ...osci.Code) osci.Feedback {
	code := osci.CodeOK
	if c.dlg != nil && c.req.Type != osci.TypeExitDialog {
		code = osci.CodeOKDialogOpen
	}
	return osci.NewFeedback(append(extra, code)...)
}

// dispatch runs the order and fills c.resp.
func (im *Intermediary) dispatch(c *call) error {
	switch c.req.Type {
	case osci.TypeInitDialog, osci.TypeExitDialog:
		c.resp.Feedback = c.success()
		return nil
	case osci.TypeGetMessageID:
		id, err := im.st.issueMessageID(c.ctx, certHash(c.client), im.cfg.Now())
		if err != nil {
			return err
		}
		c.resp.MessageID = id
		c.resp.Feedback = c.success()
		return nil
	case osci.TypeStoreDelivery:
		return im.storeDelivery(c, c.req, "store")
	case osci.TypeFetchDelivery:
		return im.fetchDelivery(c)
	case osci.TypeFetchProcessCard:
		return im.fetchProcessCard(c)
	case osci.TypeForwardDelivery:
		return im.forwardDelivery(c)
	case osci.TypeMediateDelivery:
		return im.mediateDelivery(c)
	case osci.TypePartialStoreDelivery:
		return im.partialStoreDelivery(c)
	case osci.TypePartialFetchDelivery:
		return im.partialFetchDelivery(c)
	}
	return fmt.Errorf("no handler for %s", c.req.Type)
}

// --- dialogs ---

// dialog checks the request's ControlBlock against the dialog state. A
// mismatch is fault 9400: the request does not belong to the dialog it
// claims.
func (im *Intermediary) dialog(c *call) (osci.Code, error) {
	cb := c.req.ControlBlock
	now := im.cfg.Now()
	if c.req.Type == osci.TypeInitDialog {
		if c.verr != nil {
			return osci.CodeNoValidOrderData, c.verr
		}
		cc := c.req.Message.Cert(osci.CipherCertificateOriginator)
		if cc == nil {
			return osci.CodeNoClientCipherCert, errors.New("initDialog without the client's cipher certificate")
		}
		d := &dialog{client: certHash(c.client), seq: osci.NoSequence, challenge: osci.NewChallenge(), clientCipher: cc.Raw}
		if err := im.st.openDialog(c.ctx, d, now); err != nil {
			return osci.CodeInternalServer, err
		}
		c.dlg = d
		return "", nil
	}
	if cb.ConversationID == "" {
		if c.req.Type.NeedsExplicitDialog() {
			return osci.Code("9802"), errors.New("order needs an explicit dialog")
		}
		return "", nil // implicit dialog
	}
	conv, err := strconv.ParseInt(cb.ConversationID, 10, 64)
	if err != nil {
		return osci.CodeControlBlock, fmt.Errorf("ConversationId %q", cb.ConversationID)
	}
	d, err := im.st.getDialog(c.ctx, conv)
	switch {
	case err != nil:
		return osci.CodeInternalServer, err
	case d == nil || d.closed:
		return osci.CodeControlBlock, fmt.Errorf("conversation %d is not open", conv)
	case d.client != certHash(c.client):
		return osci.CodeControlBlock, fmt.Errorf("conversation %d belongs to another client", conv)
	case cb.Response != d.challenge:
		return osci.CodeControlBlock, errors.New("Response does not echo the dialog's last challenge")
	case cb.SequenceNumber != d.seq+1:
		return osci.CodeControlBlock, fmt.Errorf("SequenceNumber %d, expected %d", cb.SequenceNumber, d.seq+1)
	}
	// A dialog is bound to its mailbox: the cipher certificate whose key
	// decrypted the initDialog challenge. Every response in it is
	// encrypted to that certificate; an order naming another one does not
	// belong to the dialog.
	if cc := c.req.Message.Cert(osci.CipherCertificateOriginator); cc != nil && !bytes.Equal(cc.Raw, d.clientCipher) {
		return osci.CodeControlBlock, fmt.Errorf("conversation %d belongs to another cipher certificate", conv)
	}
	c.dlg = d
	if d.clientCipher != nil {
		cert, err := x509.ParseCertificate(d.clientCipher)
		if err != nil {
			return osci.CodeInternalServer, err
		}
		c.replyTo = cert
	}
	return "", nil
}

// responseCB builds the response's ControlBlock.
func (im *Intermediary) responseCB(c *call) osci.ControlBlock {
	conv := ""
	if c.dlg != nil {
		conv = strconv.FormatInt(c.dlg.convID, 10)
	} else {
		conv = strconv.FormatInt(im.st.nextConversationID(), 10)
	}
	return osci.ResponseControlBlock(c.resp.Type, c.req.ControlBlock, conv)
}

// advance stores the dialog's new state (sequence number and the challenge
// the client must echo next).
func (im *Intermediary) advance(c *call) error {
	if c.dlg == nil {
		return nil
	}
	if c.req.Type == osci.TypeInitDialog {
		// The row was created with a placeholder; the client must echo the
		// challenge of this response.
		return im.st.advanceDialog(c.ctx, c.dlg.convID, c.dlg.seq, c.dlg.seq, c.resp.ControlBlock.Challenge, false, im.cfg.Now())
	}
	return im.st.advanceDialog(c.ctx, c.dlg.convID, c.dlg.seq, c.req.ControlBlock.SequenceNumber, c.resp.ControlBlock.Challenge,
		c.req.Type == osci.TypeExitDialog, im.cfg.Now())
}

// --- deliveries ---

// inspections reports the certificate checks of an order's certificates.
func (im *Intermediary) inspections(m *osci.Message) []osci.Inspection {
	now := im.cfg.Now()
	out := make([]osci.Inspection, 0, len(m.NonIntermediary))
	var chain []*x509.Certificate
	for _, e := range m.NonIntermediary {
		n := certNamesOf(e.Cert)
		in := osci.Inspection{Timestamp: osci.Timestamp{Plain: now}, SubjectName: n.subject, IssuerName: n.issuer,
			SerialNumber: n.serial, CertType: "unknown", MathResult: "ok", OfflineResult: "indeterminate"}
		if im.cfg.Policy != nil {
			usage := keystore.UsageEncryption
			if strings.HasPrefix(e.Element, "Signature") {
				usage = keystore.UsageSignature
			}
			if chain == nil {
				chain = m.Certificates()
			}
			if err := im.cfg.Policy.Check(e.Cert, usage, chain...); err != nil {
				in.OfflineResult = "invalid"
			} else {
				in.OfflineResult = "valid"
			}
		}
		out = append(out, in)
	}
	return out
}

// certNames are the strings an inspection reports for a certificate.
type certNames struct{ subject, issuer, serial string }

// certNamesCache remembers certNames per certificate: every order carries
// the same few certificates (the same *x509.Certificate, from the parse
// cache), and rendering distinguished names allocates a lot. It is
// emptied when it reaches 256 entries.
var certNamesCache struct {
	sync.Mutex
	m map[*x509.Certificate]certNames
}

func certNamesOf(c *x509.Certificate) certNames {
	certNamesCache.Lock()
	n, ok := certNamesCache.m[c]
	certNamesCache.Unlock()
	if ok {
		return n
	}
	n = certNames{subject: c.Subject.String(), issuer: c.Issuer.String(), serial: c.SerialNumber.String()}
	certNamesCache.Lock()
	if certNamesCache.m == nil || len(certNamesCache.m) >= 256 {
		certNamesCache.m = make(map[*x509.Certificate]certNames)
	}
	certNamesCache.m[c] = n
	certNamesCache.Unlock()
	return n
}

// storeDelivery validates and stores a delivery into the addressee's
// mailbox.
func (im *Intermediary) storeDelivery(c *call, o *osci.Opened, kind string) error {
	now := im.cfg.Now()
	addressee := o.Message.Cert(osci.CipherCertificateAddressee)
	if addressee == nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoValidOrderData)
		return nil
	}
	if o.MessageID == "" {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoMessageID)
		return nil
	}
	// One set of certificate inspections serves the stored card and the
	// one in the response.
	insp := im.inspections(&o.Message)
	d, err := im.saveDelivery(c.ctx, o, kind, certHash(addressee), now, insp)
	if err != nil {
		return err
	}
	if d == nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeIllegalMessageID)
		return nil
	}
	c.resp.Feedback = c.success()
	c.resp.ProcessCards = []osci.ProcessCardBundle{{MessageID: o.MessageID, RecentModification: now,
		Creation: &osci.Timestamp{Plain: now}, Subject: o.Subject, Inspections: insp}}
	return nil
}

// saveDelivery writes the attachments and the delivery row. A nil delivery
// (and nil error) means the message id was refused.
func (im *Intermediary) saveDelivery(ctx context.Context, o *osci.Opened, kind, mailbox string, now time.Time, inspections []osci.Inspection) (*delivery, error) {
	d := &delivery{msgID: o.MessageID, mailbox: mailbox, originator: certHash(o.Message.Cert(osci.SignatureCertificateOriginator)),
		kind: kind, subject: o.Subject, content: o.ContentPackageXML(), created: now}
	if d.content == nil {
		d.content = []byte("<osci:ContentPackage></osci:ContentPackage>")
	}
	for _, e := range o.NonIntermediary {
		d.certs = append(d.certs, storedCert{Element: e.Element, ID: e.ID, DER: e.Cert.Raw})
	}
	insp, err := json.Marshal(inspections)
	if err != nil {
		return nil, err
	}
	d.inspections = insp
	for _, a := range o.Attachments {
		r, err := a.OpenRaw()
		if err != nil {
			return nil, err
		}
		name, size, sum, err := im.st.writeBlob(r)
		if err != nil {
			im.dropBlobs(d)
			return nil, err
		}
		d.attachments = append(d.attachments, storedAttachment{ContentID: a.ContentID, File: name, Size: size, SHA256: sum})
	}
	if err := im.st.insertDelivery(ctx, d, kind == "store" || kind == "forward"); err != nil {
		im.dropBlobs(d)
		if errors.Is(err, errUnknownID) || errors.Is(err, errUsedID) || errors.Is(err, errForeignID) {
			im.log.WarnContext(ctx, "message id refused", "message_id", d.msgID, "reason", err.Error())
			return nil, nil
		}
		return nil, err
	}
	return d, nil
}

func (im *Intermediary) dropBlobs(d *delivery) {
	for _, a := range d.attachments {
		im.st.removeBlob(a.File)
	}
}

// card builds the process card of a stored delivery.
func card(d *delivery, withReception bool) osci.ProcessCardBundle {
	p := osci.ProcessCardBundle{MessageID: d.msgID, RecentModification: d.modified, Creation: &osci.Timestamp{Plain: d.created}, Subject: d.subject}
	if !d.forwarded.IsZero() {
		p.Forwarding = &osci.Timestamp{Plain: d.forwarded}
	}
	if withReception && !d.received.IsZero() {
		p.Reception = &osci.Timestamp{Plain: d.received}
	}
	var insp []osci.Inspection
	if json.Unmarshal(d.inspections, &insp) == nil {
		p.Inspections = insp
	}
	return p
}

// storedContent returns a stored delivery's content for a response.
func (im *Intermediary) storedContent(d *delivery) *osci.RawContent {
	rc := &osci.RawContent{XML: d.content}
	for _, a := range d.attachments {
		file := a.File
		rc.Attachments = append(rc.Attachments, osci.RawAttachment{ContentID: a.ContentID, Size: a.Size,
			Open: func() (io.ReadCloser, error) { return im.st.openBlob(file) }})
	}
	return rc
}

func storedCerts(d *delivery) ([]osci.CertEntry, error) {
	var out []osci.CertEntry
	for _, c := range d.certs {
		cert, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return nil, err
		}
		out = append(out, osci.CertEntry{Element: c.Element, ID: c.ID, Cert: cert})
	}
	return out, nil
}

// mailbox returns the requester's mailbox: the SHA-256 of the cipher
// certificate it presented when the dialog was opened.
func (c *call) mailbox() string {
	if c.dlg == nil || c.dlg.clientCipher == nil {
		return ""
	}
	s := sha256.Sum256(c.dlg.clientCipher)
	return hex.EncodeToString(s[:])
}

func (im *Intermediary) fetchDelivery(c *call) error {
	sel := c.req.Selection
	c.resp.Selection = sel
	var msgID string
	var after time.Time
	if sel != nil {
		if len(sel.MessageIDs) > 0 {
			msgID = sel.MessageIDs[0]
		}
		after = sel.ReceptionOfDelivery
	}
	mb := c.mailbox()
	if mb == "" {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoDelivery)
		return nil
	}
	d, more, err := im.st.selectForFetch(c.ctx, mb, msgID, after)
	if err != nil {
		return err
	}
	if d == nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoDelivery)
		return nil
	}
	return im.deliver(c, d, more)
}

// deliver fills a responseToFetchDelivery with d and records the
// forwarding and reception.
func (im *Intermediary) deliver(c *call, d *delivery, more bool) error {
	now := im.cfg.Now()
	certs, err := storedCerts(d)
	if err != nil {
		return err
	}
	if err := im.st.markDelivered(c.ctx, d.msgID, now, now); err != nil {
		return err
	}
	if d.forwarded.IsZero() {
		d.forwarded = now
	}
	if d.modified.Before(now) {
		d.modified = now
	}
	var extra []osci.Code
	if more {
		extra = append(extra, osci.CodeFurtherDeliveries)
	}
	c.resp.Feedback = c.success(extra...)
	c.resp.NonIntermediary = certs
	c.resp.ProcessCards = []osci.ProcessCardBundle{card(d, false)}
	c.content = im.storedContent(d)
	return nil
}

func (im *Intermediary) fetchProcessCard(c *call) error {
	q := cardQuery{originator: certHash(c.client), mailbox: c.mailbox(), limit: c.req.QuantityLimit}
	if s := c.req.Selection; s != nil {
		q.msgIDs, q.receivedAfter, q.modifiedAfter, q.noReception, q.role = s.MessageIDs, s.ReceptionOfDelivery, s.RecentModification, s.NoReception, s.Role
	}
	c.resp.Selection = c.req.Selection
	ds, more, err := im.st.processCards(c.ctx, q)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoProcessCard)
		return nil
	}
	for _, d := range ds {
		c.resp.ProcessCards = append(c.resp.ProcessCards, card(d, true))
	}
	var extra []osci.Code
	if more {
		extra = append(extra, osci.CodeFurtherCards)
	}
	c.resp.Feedback = c.success(extra...)
	return nil
}

// --- forward and mediate ---

// push sends an order to a registered passive recipient and opens its
// verified response.
func (im *Intermediary) push(ctx context.Context, uri string, m *osci.Message, content *osci.RawContent, to *x509.Certificate) (*osci.Opened, error) {
	url, ok := im.cfg.Recipients[uri]
	if !ok {
		return nil, errUnregistered
	}
	out, err := osci.Compose(m, osci.ComposeOptions{Signing: &osci.Signing{Identity: im.cfg.Signer}, SignerCertID: im.sigID,
		TransportTo: to, Content: content, SpoolDir: im.cfg.SpoolDir})
	if err != nil {
		return nil, err
	}
	defer out.Close()
	n, err := out.Len()
	if err != nil {
		return nil, err
	}
	body, err := out.Reader()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "text/xml")
	resp, err := im.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &unreachableError{err}
	}
	defer resp.Body.Close()
	o, err := osci.Open(resp.Body, im.openOptions())
	if o != nil && o.Type == osci.TypeFault {
		o.Close()
		return nil, &unreachableError{o.Fault}
	}
	if err != nil {
		if o != nil {
			o.Close()
		}
		return nil, &badAnswerError{err}
	}
	if o.Type != m.Type.Response() || o.ControlBlock.Response != m.ControlBlock.Challenge || (to != nil && o.Transport == nil) {
		o.Close()
		return nil, &badAnswerError{fmt.Errorf("answer to %s is a %s with control block %v", m.Type, o.Type, o.ControlBlock)}
	}
	return o, nil
}

var errUnregistered = errors.New("content receiver is not registered at this intermediary")

type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return "passive recipient unreachable: " + e.err.Error() }

type badAnswerError struct{ err error }

func (e *badAnswerError) Error() string {
	return "passive recipient's answer rejected: " + e.err.Error()
}

// pushFailure maps a push error to feedback.
func pushFailure(err error) osci.Code {
	var ue *unreachableError
	var be *badAnswerError
	switch {
	case errors.Is(err, errUnregistered):
		return osci.CodeNotAccepted
	case errors.As(err, &ue):
		return osci.CodeForwardFailed
	case errors.As(err, &be):
		return osci.CodeRecipientSignature
	}
	return osci.CodeForwardFailed
}

func (im *Intermediary) forwardDelivery(c *call) error {
	o := c.req
	now := im.cfg.Now()
	addressee := o.Message.Cert(osci.CipherCertificateAddressee)
	if addressee == nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoValidOrderData)
		return nil
	}
	if _, ok := im.cfg.Recipients[o.ContentReceiver]; !ok {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNotAccepted)
		return nil
	}
	// Consume the message id first: a refused id never reaches the recipient.
	insp := im.inspections(&o.Message)
	d, err := im.saveDelivery(c.ctx, o, "forward", certHash(addressee), now, insp)
	if err != nil {
		return err
	}
	if d == nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeIllegalMessageID)
		return nil
	}
	accept := &osci.Message{
		Type:            osci.TypeAcceptDelivery,
		ControlBlock:    osci.ControlBlock{SequenceNumber: osci.NoSequence, Challenge: osci.NewChallenge()},
		ProcessCards:    []osci.ProcessCardBundle{{MessageID: o.MessageID, RecentModification: now, Creation: &osci.Timestamp{Plain: now}, Forwarding: &osci.Timestamp{Plain: now}, Subject: o.Subject}},
		Intermediary:    im.pushCerts(),
		NonIntermediary: o.NonIntermediary,
	}
	ans, err := im.push(c.ctx, o.ContentReceiver, accept, o.RawContent(), addressee)
	if err != nil {
		im.log.WarnContext(c.ctx, "forwarding failed", "message_id", o.MessageID, "error", err.Error())
		c.resp.Feedback = osci.NewFeedback(pushFailure(err))
		return nil
	}
	defer ans.Close()
	if ferr := ans.Feedback.Err(); ferr != nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNotAccepted)
		return nil
	}
	received := im.cfg.Now()
	if err := im.st.markDelivered(c.ctx, d.msgID, now, received); err != nil {
		return err
	}
	c.resp.Feedback = c.success()
	c.resp.ProcessCards = []osci.ProcessCardBundle{{MessageID: o.MessageID, RecentModification: received, Creation: &osci.Timestamp{Plain: now},
		Forwarding: &osci.Timestamp{Plain: now}, Reception: &osci.Timestamp{Plain: received}, Subject: o.Subject, Inspections: insp}}
	return nil
}

// pushCerts are the IntermediaryCertificates of acceptDelivery and
// processDelivery: both certificates, so the recipient can verify and
// encrypt its answer.
func (im *Intermediary) pushCerts() []osci.CertEntry {
	return []osci.CertEntry{
		{Element: osci.CipherCertificateIntermediary, ID: osci.CertID("intermed", "cipher", im.cfg.Cipher.Certificate), Cert: im.cfg.Cipher.Certificate},
		{Element: osci.SignatureCertificateIntermediary, ID: im.sigID, Cert: im.cfg.Signer.Certificate},
	}
}

func (im *Intermediary) mediateDelivery(c *call) error {
	o := c.req
	now := im.cfg.Now()
	addressee := o.Message.Cert(osci.CipherCertificateAddressee)
	if addressee == nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoValidOrderData)
		return nil
	}
	if _, ok := im.cfg.Recipients[o.ContentReceiver]; !ok {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNotAccepted)
		return nil
	}
	reqID := o.MessageID
	if reqID == "" {
		id, err := im.st.issueMessageID(c.ctx, certHash(c.client), now)
		if err != nil {
			return err
		}
		reqID = id
	}
	replyID, err := im.st.issueMessageID(c.ctx, certHash(c.client), now)
	if err != nil {
		return err
	}
	process := &osci.Message{
		Type:              osci.TypeProcessDelivery,
		ControlBlock:      osci.ControlBlock{SequenceNumber: osci.NoSequence, Challenge: osci.NewChallenge()},
		MessageIDResponse: replyID,
		ProcessCards:      []osci.ProcessCardBundle{{MessageID: reqID, RecentModification: now, Creation: &osci.Timestamp{Plain: now}, Forwarding: &osci.Timestamp{Plain: now}, Subject: o.Subject}},
		Intermediary:      im.pushCerts(),
		NonIntermediary:   o.NonIntermediary,
	}
	ans, err := im.push(c.ctx, o.ContentReceiver, process, o.RawContent(), addressee)
	if err != nil {
		im.log.WarnContext(c.ctx, "mediation failed", "message_id", reqID, "error", err.Error())
		c.resp.Feedback = osci.NewFeedback(pushFailure(err))
		return nil
	}
	c.closers = append(c.closers, ans)
	if ferr := ans.Feedback.Err(); ferr != nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNotAccepted)
		return nil
	}
	received := im.cfg.Now()
	c.resp.Feedback = c.success()
	c.resp.ProcessCards = []osci.ProcessCardBundle{{MessageID: reqID, RecentModification: received, Creation: &osci.Timestamp{Plain: now},
		Forwarding: &osci.Timestamp{Plain: now}, Reception: &osci.Timestamp{Plain: received}, Subject: o.Subject}}
	c.resp.ReplyProcessCard = &osci.ProcessCardBundle{MessageID: replyID, RecentModification: received, Creation: &osci.Timestamp{Plain: received},
		Forwarding: &osci.Timestamp{Plain: received}, Subject: ans.Subject}
	c.resp.NonIntermediary = ans.NonIntermediary
	c.content = ans.RawContent()
	// Both legs get process cards the client can ask for later.
	for _, leg := range []struct {
		id, subject, mailbox, originator string
		certs                            []osci.CertEntry
	}{
		{reqID, o.Subject, certHash(addressee), certHash(c.client), o.NonIntermediary},
		{replyID, ans.Subject, certHash(o.Message.Cert(osci.CipherCertificateOriginator)), certHash(ans.Message.Cert(osci.SignatureCertificateAddressee)), ans.NonIntermediary},
	} {
		d := &delivery{msgID: leg.id, mailbox: leg.mailbox, originator: leg.originator, kind: "mediate", subject: leg.subject,
			content: []byte("<osci:ContentPackage></osci:ContentPackage>"), inspections: []byte("[]"), created: now, forwarded: now, received: received}
		for _, e := range leg.certs {
			d.certs = append(d.certs, storedCert{Element: e.Element, ID: e.ID, DER: e.Cert.Raw})
		}
		if err := im.st.insertDelivery(c.ctx, d, false); err != nil && !errors.Is(err, errUsedID) {
			return err
		}
	}
	return nil
}
