package testvectors

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/wire"
	"github.com/xagw/xagw/osci/xmldsig"
	"github.com/xagw/xagw/osci/xmlenc"
)

// OSCIExpect is the expected result of opening an OSCI vector with the
// kit's keys at the reference time. Entities are names from
// pki/index.json; their key files are listed in the vector's keys.
type OSCIExpect struct {
	// MessageID is the OSCI message id (decoded), "" when the type has none.
	MessageID string `json:"messageId,omitempty"`
	// TransportKey is the entity whose cipher key removes the transport
	// encryption ("" when the message is not transport-encrypted).
	TransportKey string `json:"transportKey,omitempty"`
	// Signature is the message signature (Client- or SupplierSignature);
	// every reference listed must verify and nothing else be referenced.
	Signature *OSCISignature `json:"signature,omitempty"`
	// Feedback lists the feedback codes of a response in order.
	Feedback []string `json:"feedback,omitempty"`
	// ProcessCards are the process cards (Laufzettel) the message carries.
	ProcessCards []OSCIProcessCard `json:"processCards,omitempty"`
	// Readers are the content views: for each reader key, what it can
	// decrypt. For a negative vector only Key is set: the key to try.
	Readers []OSCIReader `json:"readers,omitempty"`
}

// OSCIProcessCard is a process card with its timestamps (RFC 3339, empty
// when absent).
type OSCIProcessCard struct {
	MessageID  string `json:"messageId"`
	Creation   string `json:"creation,omitempty"`
	Forwarding string `json:"forwarding,omitempty"`
	Reception  string `json:"reception,omitempty"`
}

func processCard(pc osci.ProcessCardBundle) OSCIProcessCard {
	ts := func(t *osci.Timestamp) string {
		if t == nil || t.Plain.IsZero() {
			return ""
		}
		return t.Plain.UTC().Format(time.RFC3339)
	}
	return OSCIProcessCard{MessageID: pc.MessageID, Creation: ts(pc.Creation), Forwarding: ts(pc.Forwarding), Reception: ts(pc.Reception)}
}

// OSCISignature is an expected ds:Signature.
type OSCISignature struct {
	Block      string          `json:"block,omitempty"`
	Signer     string          `json:"signer"`
	Method     string          `json:"method"`
	References []OSCIReference `json:"references"`
}

// OSCIReference is one ds:Reference that must verify.
type OSCIReference struct {
	URI          string `json:"uri"`
	DigestMethod string `json:"digestMethod"`
}

// OSCIReader is what one reader key opens.
type OSCIReader struct {
	// Key is the reader's cipher entity ("" for content that travels
	// without content encryption).
	Key        string          `json:"key"`
	Containers []OSCIContainer `json:"containers,omitempty"`
	// Undecrypted counts EncryptedData for other readers.
	Undecrypted int `json:"undecrypted,omitempty"`
}

// OSCIContainer is one readable content container.
type OSCIContainer struct {
	ID         string          `json:"id"`
	Encrypted  bool            `json:"encrypted"`
	Signatures []OSCISignature `json:"signatures,omitempty"`
	Contents   []OSCIContent   `json:"contents"`
}

// OSCIContent is one osci:Content with the SHA-256 of its plaintext.
type OSCIContent struct {
	ID         string `json:"id,omitempty"`
	Attachment string `json:"attachment,omitempty"` // Content-ID for attachment content
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	// XAuslaender names the XAusländer vector whose bytes the content is.
	XAuslaender string `json:"xauslaender,omitempty"`
}

// osciEnv holds the key material OSCI vectors are opened with.
type osciEnv struct {
	pki   *kitPKI
	xaBy  map[string]string // sha256 → XAusländer vector id
	spool string
}

func newOSCIEnv(dir string, m *Manifest) (*osciEnv, error) {
	pki, err := loadKitPKI(dir)
	if err != nil {
		return nil, err
	}
	if !pki.p.Now.Equal(m.ReferenceTime) {
		return nil, fmt.Errorf("the PKI's reference time %s differs from the manifest's %s", pki.p.Now.Format("2006-01-02T15:04:05Z07:00"), m.ReferenceTime.Format("2006-01-02T15:04:05Z07:00"))
	}
	env := &osciEnv{pki: pki, xaBy: map[string]string{}}
	for _, v := range m.Vectors {
		if v.Kind == KindXAuslaender && len(v.Inputs) == 1 {
			env.xaBy[v.Inputs[0].SHA256] = v.ID
		}
	}
	return env, nil
}

// source yields a message from its beginning, as often as asked (a file
// for large messages, memory for the rest).
type source func() (io.ReadCloser, error)

func bytesSource(data []byte) source {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

func fileSource(p string) source {
	return func() (io.ReadCloser, error) { return os.Open(p) }
}

// open opens an OSCI message with the transport key and a reader key,
// checking every signer against the kit policy at the reference time.
func (env *osciEnv) open(data []byte, transport, reader string) (*osci.Opened, error) {
	return env.openFrom(bytesSource(data), transport, reader)
}

func (env *osciEnv) openFrom(src source, transport, reader string) (*osci.Opened, error) {
	var keys []*keystore.Identity
	for _, name := range []string{transport, reader} {
		if name == "" {
			continue
		}
		id, err := env.pki.identity(name)
		if err != nil {
			return nil, err
		}
		keys = append(keys, id)
	}
	r, err := src()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return osci.Open(r, osci.OpenOptions{Keys: keys, Policy: env.pki.policy(), SpoolDir: env.spool})
}

func (env *osciEnv) signature(rep *osci.SignatureReport) *OSCISignature {
	if rep == nil {
		return nil
	}
	s := &OSCISignature{Block: rep.Block, Signer: env.pki.nameOf(rep.Signer), Method: rep.Method}
	if s.Signer == "" && rep.Signer != nil {
		s.Signer = "foreign:" + rep.Signer.Subject.String()
	}
	for _, r := range rep.References {
		s.References = append(s.References, OSCIReference{URI: r.URI, DigestMethod: r.DigestMethod})
	}
	return s
}

// describe is what a valid message shows opened with transport and
// reader keys: the message-level fields and the reader's view.
func (env *osciEnv) describe(o *osci.Opened, reader string) (OSCIExpect, OSCIReader) {
	e := OSCIExpect{MessageID: o.MessageID, Signature: env.signature(o.Signature)}
	if o.Signature != nil {
		e.Signature.Block = o.Signature.Block
	}
	if o.Transport != nil {
		e.TransportKey = env.pki.nameOf(o.Transport.Recipient)
	}
	for _, f := range o.Feedback {
		e.Feedback = append(e.Feedback, string(f.Code))
	}
	for _, pc := range o.ProcessCards {
		e.ProcessCards = append(e.ProcessCards, processCard(pc))
	}
	if o.ReplyProcessCard != nil {
		e.ProcessCards = append(e.ProcessCards, processCard(*o.ReplyProcessCard))
	}
	r := OSCIReader{Key: reader, Undecrypted: len(o.Undecrypted)}
	for _, c := range o.Containers {
		oc := OSCIContainer{ID: c.ID, Encrypted: c.EncryptedDataID != ""}
		for _, s := range c.Signatures {
			sig := env.signature(s)
			sig.Block = ""
			oc.Signatures = append(oc.Signatures, *sig)
		}
		for _, ct := range c.Contents {
			x := OSCIContent{ID: ct.ID, Size: ct.Size, SHA256: hex.EncodeToString(ct.SHA256)}
			if ct.Attachment != nil {
				x.Attachment = ct.Attachment.ContentID
			}
			x.XAuslaender = env.xaBy[x.SHA256]
			oc.Contents = append(oc.Contents, x)
		}
		r.Containers = append(r.Containers, oc)
	}
	return e, r
}

// readerCandidates are the cipher entities that may read content.
var readerCandidates = []string{entABHCipher, entABHCipher2048, entReaderCipher, entSenderCipher, entIntermediaryCipher}

// expectValid computes the expectation of a valid message: it must open
// without any error with its transport key, and each reader key (of
// candidates, nil for every cipher key of the kit) that decrypts content
// contributes its view.
func (env *osciEnv) expectValid(src source, transport string, candidates []string) (*OSCIExpect, osci.MessageType, error) {
	if candidates == nil {
		candidates = readerCandidates
	}
	o, err := env.openFrom(src, transport, "")
	if o == nil {
		return nil, 0, err
	}
	typ := o.Type
	base, plainView := env.describe(o, "")
	o.Close()
	if err != nil {
		return nil, typ, err
	}
	for _, r := range candidates {
		if r == transport {
			continue
		}
		o, err := env.openFrom(src, transport, r)
		if o == nil {
			return nil, typ, err
		}
		readerCert := env.pki.cert(r)
		used := false
		for _, c := range o.Containers {
			used = used || (c.Reader != nil && c.Reader.Equal(readerCert))
		}
		_, view := env.describe(o, r)
		o.Close()
		if err != nil {
			return nil, typ, fmt.Errorf("with reader key %s: %w", r, err)
		}
		if used {
			base.Readers = append(base.Readers, view)
		}
	}
	if transport != "" {
		// Content the transport key itself decrypts (a response to us).
		decrypted := false
		for _, c := range plainView.Containers {
			decrypted = decrypted || c.Encrypted
		}
		if decrypted {
			plainView.Key = transport
			base.Readers = append([]OSCIReader{plainView}, base.Readers...)
		} else if len(plainView.Containers) > 0 && len(base.Readers) == 0 {
			base.Readers = []OSCIReader{plainView}
		}
	} else if len(plainView.Containers) > 0 && len(base.Readers) == 0 {
		base.Readers = []OSCIReader{plainView}
	}
	return &base, typ, nil
}

// verify checks an OSCI vector against its expectation.
func (env *osciEnv) verify(ctx context.Context, venv *verifyEnv, v *Vector) (got, detail string, err error) {
	if len(v.Inputs) != 1 {
		return "", "", fmt.Errorf("an OSCI vector has exactly one input, this one %d", len(v.Inputs))
	}
	if v.Expect.OSCI == nil {
		return "", "", errors.New("the vector has no osci expectation")
	}
	var src source
	var data []byte
	var candidates []string
	if in := v.Inputs[0]; in.OnDemand {
		p := filepath.Join(venv.dir, filepath.FromSlash(in.Path))
		got, err := HashFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", errSkip{fmt.Sprintf("%s is made on demand (%d bytes): xagw conformance generate --large --out %s", in.Path, in.Size, venv.dir)}
		}
		if err != nil {
			return "", "", err
		}
		if got.SHA256 != in.SHA256 || got.Size != in.Size {
			return "", "", fmt.Errorf("%s: content differs from the manifest (sha256 %s, manifest %s)", in.Path, got.SHA256, in.SHA256)
		}
		src = fileSource(p)
		for _, r := range v.Expect.OSCI.Readers {
			candidates = append(candidates, r.Key)
		}
	} else {
		var err error
		if data, err = venv.readInput(in); err != nil {
			return "", "", err
		}
		src = bytesSource(data)
	}
	spool, err := os.MkdirTemp("", "xagw-verify-*")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(spool)
	e := *env
	e.spool = spool
	ex := v.Expect.OSCI
	if v.Expect.Outcome == OutcomeReject {
		if data == nil {
			return "", "", errors.New("negative vectors are not made on demand")
		}
		return e.verifyNegative(data, v.Expect)
	}
	have, typ, oerr := e.expectValid(src, ex.TransportKey, candidates)
	if oerr != nil {
		class := Primary(ClassifyOSCI(oerr))
		return OutcomeReject + "/" + class, fmt.Sprintf("the message does not open cleanly: %v", oerr), nil
	}
	got = OutcomeAccept
	var diffs []string
	if typ.String() != v.Expect.MessageType {
		diffs = append(diffs, fmt.Sprintf("message type %s, expected %s", typ, v.Expect.MessageType))
	}
	diffs = append(diffs, diffOSCI(ex, have)...)
	return got, strings.Join(diffs, "; "), nil
}

// diffOSCI names the fields of two expectations that differ.
func diffOSCI(want, have *OSCIExpect) []string {
	var out []string
	cmp := func(name string, a, b any) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			out = append(out, fmt.Sprintf("%s: expected %s, got %s", name, clip(ja), clip(jb)))
		}
	}
	cmp("messageId", want.MessageID, have.MessageID)
	cmp("transportKey", want.TransportKey, have.TransportKey)
	cmp("signature", want.Signature, have.Signature)
	cmp("feedback", want.Feedback, have.Feedback)
	cmp("processCards", want.ProcessCards, have.ProcessCards)
	if len(want.Readers) != len(have.Readers) {
		out = append(out, fmt.Sprintf("readers: expected %d, got %d", len(want.Readers), len(have.Readers)))
	} else {
		for i := range want.Readers {
			cmp("readers["+want.Readers[i].Key+"]", want.Readers[i], have.Readers[i])
		}
	}
	return out
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// verifyNegative opens a negative vector with its keys and classifies the
// failure.
func (env *osciEnv) verifyNegative(data []byte, e Expect) (got, detail string, err error) {
	ex := e.OSCI
	readers := []string{""}
	if len(ex.Readers) > 0 {
		readers = nil
		for _, r := range ex.Readers {
			readers = append(readers, r.Key)
		}
	}
	var classes []string
	var errs []string
	for _, r := range readers {
		o, oerr := env.open(data, ex.TransportKey, r)
		cs := ClassifyOSCI(oerr)
		if o != nil {
			if r != "" && oerr == nil && readerLocked(o, env.pki.cert(r)) {
				cs = append(cs, ClassOSCIWrongKey)
				oerr = fmt.Errorf("no content decrypts with %s (%d EncryptedData for other readers)", r, len(o.Undecrypted))
			}
			o.Close()
		}
		classes = append(classes, cs...)
		if oerr != nil {
			errs = append(errs, oerr.Error())
		}
	}
	class := Primary(classes)
	if class == "" {
		return OutcomeAccept, "the message opened without any error", nil
	}
	got = OutcomeReject + "/" + class
	if class != e.Class {
		return got, strings.Join(errs, "; "), nil
	}
	return got, "", nil
}

// readerLocked reports whether a reader got nothing: no container
// decrypted with its key and none in the clear, while EncryptedData exist.
func readerLocked(o *osci.Opened, reader *x509.Certificate) bool {
	if len(o.Undecrypted) == 0 {
		return false
	}
	for _, c := range o.Containers {
		if c.EncryptedDataID == "" || (c.Reader != nil && c.Reader.Equal(reader)) {
			return false
		}
	}
	return true
}

// ClassifyOSCI maps an error of osci.Open to the kit's error classes (all
// that apply, most specific first; Primary picks the first). A nil error
// has none.
//
// Open joins independent failures. When content could not be decrypted, a
// container signature over that content cannot resolve or cover it either;
// those follow-on signature errors are left out, so the class names the
// cause, not its consequence.
func ClassifyOSCI(err error) []string {
	if err == nil {
		return nil
	}
	parts := leaves(err)
	decryptFailed := false
	for _, p := range parts {
		var de *osci.DecryptError
		decryptFailed = decryptFailed || errors.As(p, &de)
	}
	var out []string
	add := func(c string) {
		for _, x := range out {
			if x == c {
				return
			}
		}
		out = append(out, c)
	}
	for _, p := range parts {
		var se *osci.SignatureError
		if decryptFailed && errors.As(p, &se) && strings.HasPrefix(se.Block, "ContentContainer") &&
			(errors.Is(p, xmldsig.ErrUnresolved) || errors.Is(p, xmldsig.ErrNotCovered)) &&
			!errors.Is(p, xmldsig.ErrDigestMismatch) && !errors.Is(p, xmldsig.ErrSignatureInvalid) {
			continue
		}
		for _, c := range classifyOne(p) {
			add(c)
		}
	}
	if len(out) == 0 {
		// An error none of the classes describes: still a rejection, but
		// never the expected one.
		add(ClassInternal)
	}
	sort.SliceStable(out, func(i, j int) bool { return precedence(out[i]) < precedence(out[j]) })
	return out
}

// leaves splits joined errors (errors.Join, also nested) into their parts.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func classifyOne(err error) []string {
	var out []string
	is := func(target error) bool { return errors.Is(err, target) }
	var de *osci.DecryptError
	if errors.As(err, &de) && de.Code() == string(osci.CodeNoTransportKey) {
		out = append(out, ClassOSCIWrongKey)
	}
	if is(xmldsig.ErrLegacyAlgorithm) || is(xmlenc.ErrLegacy) {
		out = append(out, ClassOSCIAlgorithm)
	}
	if is(keystore.ErrRevoked) {
		out = append(out, ClassOSCICertRevoked)
	}
	if is(keystore.ErrExpired) {
		out = append(out, ClassOSCICertExpired)
	}
	if is(keystore.ErrNotYetValid) {
		out = append(out, ClassOSCICertNotYetValid)
	}
	// A reference that fails also leaves its element uncovered; "not
	// covered" means wrapping only when every reference verified.
	if is(xmldsig.ErrDuplicateID) || (is(xmldsig.ErrNotCovered) && !is(xmldsig.ErrDigestMismatch) &&
		!is(xmldsig.ErrUnresolved) && !is(xmldsig.ErrSignatureInvalid)) {
		out = append(out, ClassOSCIWrapping)
	}
	if is(xmlenc.ErrIVLength) {
		out = append(out, ClassOSCIIVLength)
	}
	if is(xmlenc.ErrAuthentication) || is(xmlenc.ErrTruncated) || is(xmlenc.ErrKeyUnwrap) {
		out = append(out, ClassOSCIDecrypt)
	}
	if is(xmldsig.ErrDigestMismatch) {
		out = append(out, ClassOSCIDigest)
	}
	if is(xmldsig.ErrSignatureInvalid) {
		out = append(out, ClassOSCISignature)
	}
	var pe *osci.ParseError
	var we *wire.Error
	if errors.As(err, &pe) || errors.As(err, &we) || is(xmldsig.ErrMalformed) || is(xmlenc.ErrMalformed) || is(xmldsig.ErrUnresolved) {
		out = append(out, ClassOSCIMessage)
	}
	return out
}

func precedence(c string) int {
	for i, k := range ClassPrecedence {
		if k == c {
			return i
		}
	}
	return len(ClassPrecedence)
}
