package testvectors

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/testvectors/report"
	"github.com/xagw/xagw/xauslaender"
)

// Target is an OSCI intermediary the kit talks to.
type Target struct {
	URL                   string
	IntermediaryCipher    *x509.Certificate
	IntermediarySignature *x509.Certificate
	// Roots are the trust anchors the kit accepts (its own root plus
	// what the run was given).
	Roots *x509.CertPool
	// Policy checks certificates with Roots at the current time.
	Policy *keystore.Policy
}

// RunOptions control Run.
type RunOptions struct {
	// Dir is the kit directory; Bundle the schema bundle replies are
	// checked with.
	Dir    string
	Bundle *schemas.Bundle
	// IntermediaryURL is the intermediary holding the vendor's mailbox,
	// with its certificates. Empty: the kit starts its own test
	// intermediary on Listen (default 127.0.0.1:0), so a vendor's system
	// (or a simulated one) can connect to it.
	IntermediaryURL       string
	IntermediaryCipher    *x509.Certificate
	IntermediarySignature *x509.Certificate
	Listen                string
	// VendorCipher is the case system's cipher certificate: its mailbox
	// and the key content is encrypted for. Required.
	VendorCipher *x509.Certificate
	// VendorSignature, if set, is the only certificate accepted for the
	// content signatures of replies.
	VendorSignature *x509.Certificate
	// Trust adds trust anchors (the vendor's CA, the intermediary's CA).
	Trust []*x509.Certificate
	// ABH, if set, re-addresses the messages (leser) to this office key
	// of the ABH code list, for case systems that only accept their own.
	ABH string
	// Wait bounds the time for replies (default 2 minutes); Poll is the
	// mailbox polling interval (default 2 s); Settle is how long the run
	// keeps collecting after every expected reply arrived, to see late
	// replies to messages that must not be accepted (default 5 s).
	Wait, Poll, Settle time.Duration
	// Only restricts the run to vectors with these id prefixes.
	Only []string
	// StartVendor, if set, runs a case system against the target until
	// its context ends (a simulated vendor for dry runs and tests).
	StartVendor func(ctx context.Context, t Target) error
	// Announce, if set, is told the target once it is ready (to print the
	// address of the kit's own intermediary for a vendor's system).
	Announce func(t Target)
	// Logger receives the OSCI clients' structured logs (no content).
	Logger *slog.Logger
}

// evKennung is the Behördenkennung of the kit's online service (the
// author of every message it sends; replies must be addressed to it).
const evKennung = "ozgev:000000000001"

// sentMessage is one delivery of the run.
type sentMessage struct {
	v         *Vector
	uuid      string // nachrichtenUUID as sent ("" if the document has none)
	antragsID string
	code      string
	osciID    string
	err       error
	replies   []*replyDoc
}

// replyDoc is one XAusländer document from the vendor's replies.
type replyDoc struct {
	osciID   string
	code     string
	ref      string // ausloeserUUID or, for a Rückweisung, the rejected UUID
	antrag   string
	reason   string // Rückweisung: fehlerbeschreibung / grund
	problems []string
}

func (r *replyDoc) rejection() bool { return rejectionTypes[r.code] }

// rejectionTypes are the rejections a case system sends: the XInneres
// Rückweisung and XAusländer's synchronous Rückweisung.
var rejectionTypes = map[string]bool{rueckweisungCode: true, "000002": true}

// Run runs the kit against a vendor's case system: (a) every vector a case
// system receives is delivered into the vendor's mailbox — XAusländer
// vectors as signed, encrypted content, OSCI vectors re-created for the
// vendor's key (delivery shapes and content defects) — with fresh
// nachrichtenUUIDs, so repeated runs never collide; (b) the replies are
// fetched from the kit's own mailbox, verified and decrypted, checked
// against the schemas, code lists, header rules and OSCI rules, linked to
// the messages they answer (ausloeserUUID, idNachricht) and compared with
// what each vector expects. One result per vector.
func Run(ctx context.Context, o RunOptions) (*report.Report, error) {
	start := time.Now()
	if o.Wait <= 0 {
		o.Wait = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Bundle == nil {
		return nil, errors.New("testvectors: Run needs a schema bundle")
	}
	m, err := LoadManifest(o.Dir)
	if err != nil {
		return nil, err
	}
	r := &report.Report{Suite: "xagw conformance run", Started: start}
	for _, p := range m.CheckFiles(o.Dir, false) {
		r.Problems = append(r.Problems, "file "+p.String())
	}
	pki, err := loadKitPKI(o.Dir)
	if err != nil {
		return nil, err
	}
	spool, err := os.MkdirTemp("", "xagw-run-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(spool)

	target, stop, err := o.target(pki, spool)
	if err != nil {
		return nil, err
	}
	defer stop()
	if o.VendorCipher == nil {
		return nil, errors.New("testvectors: the vendor's cipher certificate is required (its mailbox)")
	}
	r.Target = fmt.Sprintf("%s, mailbox %s", target.URL, o.VendorCipher.Subject.CommonName)
	if o.Announce != nil {
		o.Announce(target)
	}

	vctx, cancelVendor := context.WithCancel(ctx)
	var vendorWG sync.WaitGroup
	var vendorErr error
	if o.StartVendor != nil {
		vendorWG.Add(1)
		go func() {
			defer vendorWG.Done()
			if err := o.StartVendor(vctx, target); err != nil && vctx.Err() == nil {
				vendorErr = err
			}
		}()
	}
	defer func() { cancelVendor(); vendorWG.Wait() }()

	rn := &runner{o: o, m: m, pki: pki, spool: spool, target: target, xa: NewXAChecker(o.Bundle)}
	if err := rn.clients(); err != nil {
		return nil, err
	}
	if n, err := rn.drain(ctx); err != nil {
		return nil, fmt.Errorf("emptying the kit's mailbox before the run: %w", err)
	} else if n > 0 {
		o.Logger.Info("kit mailbox emptied before the run", "deliveries", n)
	}
	sent := rn.deliver(ctx)
	problems := rn.collect(ctx, sent)
	r.Problems = append(r.Problems, problems...)
	cancelVendor()
	vendorWG.Wait()
	if vendorErr != nil {
		r.Problems = append(r.Problems, "simulated case system: "+vendorErr.Error())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	delivered := map[string]*sentMessage{}
	for _, s := range sent {
		delivered[s.v.ID] = s
	}
	for i := range m.Vectors {
		v := &m.Vectors[i]
		if !selectedID(v.ID, o.Only) {
			continue
		}
		if s := delivered[v.ID]; s != nil {
			r.Add(rn.judge(s))
			continue
		}
		r.Add(report.Result{ID: v.ID, Kind: v.Kind, Status: report.StatusSkip, Detail: notDelivered(v)})
	}
	r.Sort()
	r.Duration = time.Since(start)
	return r, nil
}

func notDelivered(v *Vector) string {
	switch {
	case v.Kind == KindXAuslaender:
		return "written by the ABH, read by the gateway: not sent to case systems (xagw conformance verify checks it)"
	case v.Expect.Outcome == OutcomeReject && strings.HasPrefix(v.Expect.MessageType, "responseTo"):
		return "the kit's test intermediary already refuses such content, so it cannot be relayed to a case system: check the file offline (it is what a case system would fetch)"
	case v.Expect.Outcome == OutcomeReject:
		return "refused on OSCI order level by any intermediary: never reaches a case system (check it offline with the manifest)"
	default:
		return "OSCI protocol message: check it offline with the manifest (the run sends storeDelivery shapes)"
	}
}

// target returns the intermediary to use, starting the kit's own if none
// is given.
func (o RunOptions) target(pki *kitPKI, spool string) (Target, func(), error) {
	roots := x509.NewCertPool()
	roots.AddCert(pki.p.Root.Certificate)
	for _, c := range o.Trust {
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	inter.AddCert(pki.p.IssuingCA.Certificate)
	// Replies are live traffic: judged now, not at the kit's reference
	// time. Revocation of vendor certificates is not checked (their CRLs
	// are not known to the kit).
	policy := &keystore.Policy{Roots: roots, Intermediates: inter}
	t := Target{URL: o.IntermediaryURL, IntermediaryCipher: o.IntermediaryCipher, IntermediarySignature: o.IntermediarySignature, Roots: roots, Policy: policy}
	if o.IntermediaryURL != "" {
		if t.IntermediaryCipher == nil || t.IntermediarySignature == nil {
			return Target{}, nil, errors.New("testvectors: an intermediary URL needs its cipher and signature certificates")
		}
		return t, func() {}, nil
	}
	im, err := intermediary.New(intermediary.Config{
		DataDir: spool, Signer: pki.mustIdentity(entIntermediarySig), Cipher: pki.mustIdentity(entIntermediaryCipher),
		Policy: policy, SpoolDir: spool, Logger: o.Logger,
	})
	if err != nil {
		return Target{}, nil, err
	}
	addr := o.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		im.Close()
		return Target{}, nil, err
	}
	srv := &http.Server{Handler: im, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	t.URL = "http://" + ln.Addr().String() + "/osci"
	t.IntermediaryCipher = pki.cert(entIntermediaryCipher)
	t.IntermediarySignature = pki.cert(entIntermediarySig)
	return t, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		im.Close()
	}, nil
}

type runner struct {
	o      RunOptions
	m      *Manifest
	pki    *kitPKI
	spool  string
	target Target
	xa     *XAChecker
	kit    *osci.Client            // the kit's online service: sends, fetches replies
	by     map[string]*osci.Client // senders per signer/method
}

func (rn *runner) client(sig, method string) (*osci.Client, error) {
	key := sig + "|" + method
	if c := rn.by[key]; c != nil {
		return c, nil
	}
	signer, err := rn.pki.identity(sig)
	if err != nil {
		return nil, err
	}
	c, err := osci.NewClient(osci.Config{
		URL: rn.target.URL, IntermediaryCipher: rn.target.IntermediaryCipher, IntermediarySignature: rn.target.IntermediarySignature,
		Signer: signer, Cipher: rn.pki.mustIdentity(entSenderCipher), Policy: rn.target.Policy,
		SignatureMethod: method, SpoolDir: rn.spool, Logger: rn.o.Logger,
	})
	if err != nil {
		return nil, err
	}
	rn.by[key] = c
	return c, nil
}

func (rn *runner) clients() error {
	rn.by = map[string]*osci.Client{}
	var err error
	rn.kit, err = rn.client(entSenderSig, "")
	return err
}

// drain fetches what waits in the kit's mailbox from earlier runs, so
// every reply collected later belongs to this run.
func (rn *runner) drain(ctx context.Context) (int, error) {
	for n := 0; n < 10000; n++ {
		f, err := rn.kit.FetchDelivery(ctx, osci.FetchSelection{})
		if errors.Is(err, osci.ErrNoDelivery) {
			return n, nil
		}
		if err != nil {
			var fe *osci.FeedbackError
			if errors.As(err, &fe) || ctx.Err() != nil {
				return n, err
			}
			continue // an unreadable old delivery: it is gone now
		}
		f.Close()
	}
	return 0, errors.New("more than 10000 deliveries waiting")
}

// document returns the XAusländer document a vector travels with, with a
// fresh nachrichtenUUID (when it has a valid one) and, if asked, the
// vendor's office as reader.
func (rn *runner) document(v *Vector) ([]byte, error) {
	p := docAntrag
	if v.Kind == KindXAuslaender {
		p = v.Inputs[0].Path
	}
	f, ok := fileOf(rn.m, p)
	if !ok {
		return nil, fmt.Errorf("%s is not in the manifest", p)
	}
	data, err := os.ReadFile(rn.o.Dir + "/" + p)
	if err != nil {
		return nil, err
	}
	if HashBytes(p, data) != f {
		return nil, fmt.Errorf("%s differs from the manifest", p)
	}
	if hf := rn.xa.Check(data).Header; IsUUID(hf.NachrichtenUUID) {
		data = bytes.ReplaceAll(data, []byte(hf.NachrichtenUUID), []byte(newUUID()))
	}
	if rn.o.ABH != "" {
		dir, err := xauslaender.NewABHDirectory(rn.o.Bundle)
		if err != nil {
			return nil, err
		}
		leser, err := dir.Leser(rn.o.ABH)
		if err != nil {
			return nil, err
		}
		data = bytes.ReplaceAll(data, []byte("<kennung>abh:000100</kennung>"), []byte("<kennung>"+leser.Kennung+"</kennung>"))
		data = bytes.ReplaceAll(data, []byte("<name>STV Aalen</name>"), []byte("<name>"+xmlEscape(leser.Name)+"</name>"))
	}
	return data, nil
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func fileOf(m *Manifest, p string) (File, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// newUUID is a random version-4 UUID (real randomness: these go to a
// vendor's system and must never repeat).
func newUUID() string {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("testvectors: crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// deliver sends every selected vector that has a vendor expectation.
func (rn *runner) deliver(ctx context.Context) []*sentMessage {
	var out []*sentMessage
	for i := range rn.m.Vectors {
		v := &rn.m.Vectors[i]
		if v.Vendor == nil || !selectedID(v.ID, rn.o.Only) {
			continue
		}
		s := &sentMessage{v: v}
		out = append(out, s)
		doc, err := rn.document(v)
		if err != nil {
			s.err = err
			continue
		}
		hf := rn.xa.Check(doc).Header
		if IsUUID(hf.NachrichtenUUID) {
			s.uuid = hf.NachrichtenUUID
		}
		s.antragsID, s.code = hf.Antragsidentifikation, hf.MessageType
		s.osciID, s.err = rn.send(ctx, v, doc)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// send delivers one document in the shape the vector names.
func (rn *runner) send(ctx context.Context, v *Vector, doc []byte) (string, error) {
	vendor, other := rn.o.VendorCipher, rn.pki.cert(entReaderCipher)
	subject := "xagw conformance " + v.ID
	shape := v.Vendor.Delivery
	switch {
	case strings.HasPrefix(shape, "defect:"):
		name := strings.TrimPrefix(shape, "defect:")
		for _, d := range contentDefects {
			if d.name == name {
				return rn.sendDefect(ctx, d, subject, doc)
			}
		}
		return "", fmt.Errorf("unknown content defect %q", name)
	case shape == "":
		shape = "store-signed-encrypted"
	}
	variant, ok := variantByName(shape)
	if !ok {
		return "", fmt.Errorf("unknown delivery shape %q", shape)
	}
	c, err := rn.client(variant.signer, variant.method)
	if err != nil {
		return "", err
	}
	id, err := c.GetMessageID(ctx)
	if err != nil {
		return "", err
	}
	_, err = c.StoreDelivery(ctx, &osci.Delivery{MessageID: id, Subject: subject, Addressee: vendor,
		Containers: variant.containers(vendor, other, doc)})
	return id, err
}

// collect fetches replies from the kit's mailbox until every message that
// needs a reply has one (then Settle longer) or Wait is over. It returns
// problems that belong to no single vector.
func (rn *runner) collect(ctx context.Context, sent []*sentMessage) []string {
	byUUID := map[string]*sentMessage{}
	for _, s := range sent {
		if s.uuid != "" && s.err == nil {
			byUUID[s.uuid] = s
		}
	}
	waiting := func() bool {
		for _, s := range sent {
			if s.err == nil && (s.v.Vendor.Reply == ReplyPositive || s.v.Vendor.Reply == ReplyRejection) && len(s.replies) == 0 && s.uuid != "" {
				return true
			}
		}
		return false
	}
	var problems []string
	deadline := time.Now().Add(rn.o.Wait)
	var settleUntil time.Time
	take := func(f *osci.Fetched) {
		docs, osciProblems := rn.analyse(f)
		id := f.DeliveryID()
		f.Close()
		if len(docs) == 0 {
			problems = append(problems, fmt.Sprintf("reply %s carries no XAusländer document: %s", id, strings.Join(osciProblems, "; ")))
		}
		for _, d := range docs {
			d.problems = append(osciProblems, d.problems...)
			s := byUUID[d.ref]
			if s == nil {
				problems = append(problems, fmt.Sprintf("reply %s (type %s) refers to nachrichtenUUID %q, which the kit did not send in this run", id, d.code, d.ref))
				continue
			}
			s.replies = append(s.replies, d)
		}
	}
	for {
		if ctx.Err() != nil {
			return problems
		}
		// One dialog per polling round: fetch until the mailbox is empty.
		n := 0
		sess, err := rn.kit.Dialog(ctx)
		if err != nil {
			problems = append(problems, "opening a dialog with the intermediary failed: "+err.Error())
			return problems
		}
		for {
			f, err := sess.FetchDelivery(ctx, osci.FetchSelection{})
			if errors.Is(err, osci.ErrNoDelivery) {
				sess.ExitDialog(ctx)
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					return problems
				}
				// A refused response leaves the dialog out of step: the
				// next round opens a new one.
				problems = append(problems, "a reply in the kit's mailbox failed OSCI verification or could not be fetched: "+err.Error())
				n++
				break
			}
			n++
			take(f)
		}
		if n > 0 {
			continue
		}
		now := time.Now()
		if !waiting() {
			if settleUntil.IsZero() {
				settleUntil = now.Add(rn.o.Settle)
			}
			if now.After(settleUntil) {
				return problems
			}
		}
		if now.After(deadline) {
			return problems
		}
		select {
		case <-ctx.Done():
			return problems
		case <-time.After(rn.o.Poll):
		}
	}
}

// positiveReplyTypes are the messages an office answers an online service
// with (ABH→EV): the OZG replies and the Nichtzuständigkeitserklärung.
var positiveReplyTypes = map[string]bool{
	"130102": true, "130104": true, "130105": true, "130107": true, "130109": true, "130110": true,
	"130402": true, "130403": true, "130405": true, "130407": true, "000030": true,
}

// analyse checks one fetched reply: OSCI rules (content encrypted for the
// kit, every container signed, by the pinned signer if any) and each
// XAusländer document (schema, code lists, header rules, addressed to the
// kit, linked to a message).
func (rn *runner) analyse(f *osci.Fetched) ([]*replyDoc, []string) {
	var problems []string
	var docs []*replyDoc
	id := f.DeliveryID()
	for _, c := range f.Containers {
		if c.EncryptedDataID == "" {
			problems = append(problems, fmt.Sprintf("container %s is not content-encrypted for the kit (only transport encryption protects it)", c.ID))
		}
		if len(c.Signatures) == 0 {
			problems = append(problems, fmt.Sprintf("container %s is not signed", c.ID))
		}
		for _, s := range c.Signatures {
			if !s.OK() {
				problems = append(problems, fmt.Sprintf("container %s: signature does not verify: %v", c.ID, s.Err))
			}
			if rn.o.VendorSignature != nil && (s.Signer == nil || !s.Signer.Equal(rn.o.VendorSignature)) {
				problems = append(problems, fmt.Sprintf("container %s is signed by %v, not by the vendor's signature certificate", c.ID, subjectOf(s.Signer)))
			}
		}
		for _, ct := range c.Contents {
			if ct.Data == nil {
				continue // an attachment: documents of the reply, not checked here
			}
			docs = append(docs, rn.replyDocument(id, ct.Data))
		}
	}
	for _, u := range f.Undecrypted {
		problems = append(problems, fmt.Sprintf("EncryptedData %s is not encrypted for the kit", u.ID))
	}
	return docs, problems
}

func subjectOf(c *x509.Certificate) string {
	if c == nil {
		return "nobody"
	}
	return c.Subject.String()
}

func (rn *runner) replyDocument(osciID string, data []byte) *replyDoc {
	d := &replyDoc{osciID: osciID}
	ns, _, _ := schemas.RootName(data)
	if xauslaender.QuittungNS.MatchString(ns) {
		// The Quittung schema is not in the bundle: read its header and
		// find the message it acknowledges by its UUID.
		hf := rn.xa.Check(data).Header
		d.code = "quittung"
		d.ref = hf.AusloeserUUID
		if d.ref == "" {
			d.ref = findUUID(data, hf.NachrichtenUUID)
		}
		d.problems = append(d.problems, "XInneres Quittung: its schema is not in the bundle, so only its header was checked")
		if hf.Leser != evKennung {
			d.problems = append(d.problems, fmt.Sprintf("addressed to leser %q, not to the online service %s", hf.Leser, evKennung))
		}
		return d
	}
	res := rn.xa.Check(data)
	hf := res.Header
	d.code, d.antrag = hf.MessageType, hf.Antragsidentifikation
	d.ref = hf.AusloeserUUID
	if rejectionTypes[d.code] {
		d.ref = hf.RejectedUUID
		d.reason = rejectionReason(data)
	}
	if !res.Valid() {
		d.problems = append(d.problems, "the reply is not valid XAusländer: "+firstOf(res.Findings, res.Class))
	}
	if hf.Leser != evKennung {
		d.problems = append(d.problems, fmt.Sprintf("addressed to leser %q, not to the online service %s", hf.Leser, evKennung))
	}
	if !rejectionTypes[d.code] && !positiveReplyTypes[d.code] {
		d.problems = append(d.problems, fmt.Sprintf("type %s is not a message an ABH sends to an online service", d.code))
	}
	return d
}

// findUUID returns the first UUID in a document other than its own id.
func findUUID(data []byte, own string) string {
	for _, m := range uuidInText.FindAll(data, -1) {
		if string(m) != own {
			return string(m)
		}
	}
	return ""
}

// rejectionReason reads grund and fehlerbeschreibung of a Rückweisung.
func rejectionReason(data []byte) string {
	var out []string
	for _, tag := range []string{"code", "fehlerbeschreibung"} {
		for _, m := range tagText(data, tag) {
			out = append(out, m)
		}
	}
	return strings.Join(out, " ")
}

// judge compares what happened to a delivered vector with its
// expectation.
func (rn *runner) judge(s *sentMessage) report.Result {
	v := s.v
	res := report.Result{ID: v.ID, Kind: v.Kind, Expected: "reply " + v.Vendor.Reply}
	var skip errSkip
	switch {
	case errors.As(s.err, &skip):
		res.Status, res.Detail = report.StatusSkip, skip.why
		return res
	case s.err != nil:
		res.Status, res.Detail = report.StatusError, "delivery failed: "+s.err.Error()
		return res
	}
	var pos, rej []*replyDoc
	var problems []string
	for _, d := range s.replies {
		if d.rejection() {
			rej = append(rej, d)
		} else {
			pos = append(pos, d)
		}
		for _, p := range d.problems {
			problems = append(problems, fmt.Sprintf("reply %s (%s): %s", d.osciID, d.code, p))
		}
		if !d.rejection() && s.antragsID != "" && d.antrag != "" && d.antrag != s.antragsID {
			problems = append(problems, fmt.Sprintf("reply %s (%s) names antragsidentifikation %q, the message had %q", d.osciID, d.code, d.antrag, s.antragsID))
		}
	}
	var codes []string
	for _, d := range s.replies {
		codes = append(codes, d.code)
	}
	sort.Strings(codes)
	res.Got = "no reply"
	if len(codes) > 0 {
		res.Got = "reply " + strings.Join(codes, ",")
	}
	var fail []string
	switch v.Vendor.Reply {
	case ReplyPositive:
		switch {
		case len(rej) > 0:
			fail = append(fail, "a valid message was rejected: "+rej[0].reason)
		case len(pos) == 0:
			fail = append(fail, fmt.Sprintf("no reply within %s", rn.o.Wait))
		}
	case ReplyRejection:
		switch {
		case len(pos) > 0:
			fail = append(fail, fmt.Sprintf("an invalid message (%s) was accepted", v.Expect.Class))
		case len(rej) == 0:
			fail = append(fail, fmt.Sprintf("no Rückweisung within %s", rn.o.Wait))
		}
	case ReplyNoRejection:
		if len(rej) > 0 {
			fail = append(fail, "a valid follow-up message was rejected: "+rej[0].reason)
		}
	case ReplyNoAcceptance:
		if len(pos) > 0 {
			fail = append(fail, fmt.Sprintf("a message that must be refused (%s) was accepted", v.Expect.Class))
		}
	}
	fail = append(fail, problems...)
	if len(fail) > 0 {
		res.Status, res.Detail = report.StatusFail, strings.Join(fail, "; ")
	} else {
		res.Status = report.StatusPass
	}
	return res
}
