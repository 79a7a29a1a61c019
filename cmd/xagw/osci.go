package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
)

// envPIN holds the PIN of PKCS#12 files given to the osci and intermediary
// commands (never a flag).
const envPIN = "XAGW_PIN"

func init() {
	register(&command{
		Name:    "osci",
		Summary: "OSCI tools: open (decrypt and verify) a wire message",
		Run:     runOSCI,
	})
}

const osciUsage = `usage:
  xagw osci open [--key FILE.p12 ...] [--key-pem CERT.pem,KEY.pem ...] [--pin-file F] [--trust CA.pem ...] [--signer CERT] [--out DIR] [--json] FILE.wire

Run 'xagw osci open -h' for all flags.
`

func runOSCI(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.Stderr, osciUsage)
		return 2
	}
	switch args[0] {
	case "open":
		return osciOpen(ctx, c, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(c.Stderr, osciUsage)
		return 0
	}
	fmt.Fprintf(c.Stderr, "xagw osci: unknown subcommand %q\n\n%s", args[0], osciUsage)
	return 2
}

type osciList []string

func (s *osciList) String() string     { return strings.Join(*s, ",") }
func (s *osciList) Set(v string) error { *s = append(*s, v); return nil }

// readPIN returns the PIN from --pin-file or $XAGW_PIN ("" if neither).
func readPIN(c *cli, pinFile string) ([]byte, error) {
	if pinFile != "" {
		b, err := os.ReadFile(pinFile)
		if err != nil {
			return nil, fmt.Errorf("PIN file: %w", err)
		}
		return bytes.TrimRight(b, "\r\n"), nil
	}
	return []byte(c.Getenv(envPIN)), nil
}

// loadIdentities loads PKCS#12 files (PIN from pin) and PEM pairs.
func loadIdentities(p12s, pems []string, pin []byte) ([]*keystore.Identity, error) {
	var out []*keystore.Identity
	for _, p := range p12s {
		if len(pin) == 0 {
			return nil, fmt.Errorf("%s: no PIN (use --pin-file or $%s)", p, envPIN)
		}
		id, err := keystore.LoadPKCS12File(p, pin)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, id)
	}
	for _, p := range pems {
		cert, key, ok := strings.Cut(p, ",")
		if !ok {
			return nil, fmt.Errorf("--key-pem %q: want CERT.pem,KEY.pem", p)
		}
		id, err := keystore.LoadPEMFiles(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, id)
	}
	return out, nil
}

// loadCertFile reads one certificate (PEM or DER).
func loadCertFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if c, err := x509.ParseCertificate(data); err == nil {
		return c, nil
	}
	certs, err := keystore.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs[0], nil
}

func osciOpen(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw osci open", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	var p12s, pems, trust osciList
	fs.Var(&p12s, "key", "PKCS#12 cipher key to decrypt with (transport or content), repeatable; PIN from --pin-file or $"+envPIN)
	fs.Var(&pems, "key-pem", "cipher key as CERT.pem,KEY.pem, repeatable")
	pinFile := fs.String("pin-file", "", "file holding the PKCS#12 PIN")
	fs.Var(&trust, "trust", "PEM file of trusted CA certificates for the signer checks, repeatable; without it certificates are reported but not checked")
	signer := fs.String("signer", "", "certificate (PEM or DER) the message must be signed with")
	out := fs.String("out", "", "write decrypted contents and attachments into this folder")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(c.Stderr, osciUsage)
		return 2
	}
	pin, err := readPIN(c, *pinFile)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw osci open: %v\n", err)
		return 2
	}
	keys, err := loadIdentities(p12s, pems, pin)
	clear(pin)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw osci open: %v\n", err)
		return 2
	}
	opts := osci.OpenOptions{Keys: keys}
	if len(trust) > 0 {
		pool, err := keystore.CertPoolFromFiles(trust...)
		if err != nil {
			fmt.Fprintf(c.Stderr, "xagw osci open: --trust: %v\n", err)
			return 2
		}
		opts.Policy = &keystore.Policy{Roots: pool}
	}
	if *signer != "" {
		if opts.Signer, err = loadCertFile(*signer); err != nil {
			fmt.Fprintf(c.Stderr, "xagw osci open: --signer: %v\n", err)
			return 2
		}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw osci open: %v\n", err)
		return 2
	}
	defer f.Close()
	o, openErr := osci.Open(f, opts)
	if o == nil {
		fmt.Fprintf(c.Stderr, "xagw osci open: %s: %v\n", fs.Arg(0), openErr)
		return 1
	}
	defer o.Close()
	rep := buildReport(o, openErr, opts.Policy != nil)
	if *out != "" {
		if err := writeContents(o, *out); err != nil {
			fmt.Fprintf(c.Stderr, "xagw osci open: --out: %v\n", err)
			return 1
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printReport(c.Stdout, rep)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// openReport is what `xagw osci open` prints (also as JSON).
type openReport struct {
	File         string              `json:"-"`
	Type         string              `json:"type"`
	MessageID    string              `json:"message_id,omitempty"`
	Subject      string              `json:"subject,omitempty"`
	ControlBlock map[string]any      `json:"control_block,omitempty"`
	Feedback     []string            `json:"feedback,omitempty"`
	Fault        string              `json:"fault,omitempty"`
	Transport    *transportReport    `json:"transport,omitempty"`
	Signature    *signatureReport    `json:"signature,omitempty"`
	Containers   []containerReport   `json:"containers,omitempty"`
	Undecrypted  []undecryptedReport `json:"undecrypted,omitempty"`
	Attachments  []attachmentReport  `json:"attachments,omitempty"`
	ProcessCards []cardReport        `json:"process_cards,omitempty"`
	Errors       []string            `json:"errors,omitempty"`
	OK           bool                `json:"ok"`
}

type transportReport struct {
	Algorithm    string      `json:"algorithm"`
	KeyTransport string      `json:"key_transport"`
	Recipient    *certReport `json:"recipient"`
}

type signatureReport struct {
	Block       string      `json:"block"`
	Method      string      `json:"method"`
	Signer      *certReport `json:"signer,omitempty"`
	ValueOK     bool        `json:"signature_value_ok"`
	References  []refReport `json:"references"`
	Certificate string      `json:"certificate_check"`
	Error       string      `json:"error,omitempty"`
	OK          bool        `json:"ok"`
}

type refReport struct {
	URI    string `json:"uri"`
	Digest string `json:"digest_method"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

type certReport struct {
	Subject     string `json:"subject"`
	Issuer      string `json:"issuer"`
	Serial      string `json:"serial"`
	NotBefore   string `json:"not_before"`
	NotAfter    string `json:"not_after"`
	Fingerprint string `json:"sha256_fingerprint"`
}

type containerReport struct {
	ID            string            `json:"id"`
	EncryptedData string            `json:"encrypted_data,omitempty"`
	Reader        *certReport       `json:"decrypted_for,omitempty"`
	Signatures    []signatureReport `json:"signatures,omitempty"`
	Contents      []contentReport   `json:"contents"`
}

type contentReport struct {
	ID         string `json:"id"`
	Attachment string `json:"attachment,omitempty"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256,omitempty"`
}

type undecryptedReport struct {
	ID         string   `json:"id"`
	Recipients []string `json:"recipients"`
}

type attachmentReport struct {
	ContentID  string `json:"content_id"`
	WireSize   int64  `json:"wire_size"`
	WireSHA256 string `json:"wire_sha256"`
	Encrypted  bool   `json:"encrypted"`
	Decrypted  bool   `json:"decrypted"`
	Size       int64  `json:"size,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
}

type cardReport struct {
	MessageID  string `json:"message_id"`
	Creation   string `json:"creation,omitempty"`
	Forwarding string `json:"forwarding,omitempty"`
	Reception  string `json:"reception,omitempty"`
	Subject    string `json:"subject,omitempty"`
}

func certInfo(c *x509.Certificate) *certReport {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	return &certReport{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC().Format(time.RFC3339), NotAfter: c.NotAfter.UTC().Format(time.RFC3339), Fingerprint: hex.EncodeToString(sum[:])}
}

func sigInfo(s *osci.SignatureReport, checked bool) signatureReport {
	r := signatureReport{Block: s.Block, Method: s.Method, Signer: certInfo(s.Signer), ValueOK: s.ValueOK, OK: s.OK()}
	for _, ref := range s.References {
		rr := refReport{URI: ref.URI, Digest: ref.DigestMethod, OK: ref.OK}
		if ref.Err != nil {
			rr.Error = ref.Err.Error()
		}
		r.References = append(r.References, rr)
	}
	switch {
	case s.CertErr != nil:
		r.Certificate = "FAILED: " + s.CertErr.Error()
	case checked:
		r.Certificate = "trusted"
	default:
		r.Certificate = "not checked (no --trust)"
	}
	if s.Err != nil {
		r.Error = s.Err.Error()
	}
	return r
}

func ts(t *osci.Timestamp) string {
	if t == nil {
		return ""
	}
	if len(t.Cryptographic) > 0 {
		return "cryptographic"
	}
	return t.Plain.Format(time.RFC3339)
}

func buildReport(o *osci.Opened, err error, checked bool) *openReport {
	r := &openReport{Type: o.Type.String(), MessageID: o.MessageID, Subject: o.Subject, OK: err == nil}
	if err != nil {
		for _, e := range flattenErrors(err) {
			r.Errors = append(r.Errors, e.Error())
		}
	}
	cb := o.ControlBlock
	if cb.Challenge != "" || cb.Response != "" || cb.ConversationID != "" {
		r.ControlBlock = map[string]any{}
		if cb.ConversationID != "" {
			r.ControlBlock["conversation_id"] = cb.ConversationID
		}
		if cb.SequenceNumber != osci.NoSequence {
			r.ControlBlock["sequence_number"] = cb.SequenceNumber
		}
		if cb.Response != "" {
			r.ControlBlock["response"] = cb.Response
		}
		if cb.Challenge != "" {
			r.ControlBlock["challenge"] = cb.Challenge
		}
	}
	for _, e := range o.Feedback {
		r.Feedback = append(r.Feedback, string(e.Code)+" "+e.Text)
	}
	if o.Fault != nil {
		r.Fault = o.Fault.Error()
	}
	if t := o.Transport; t != nil {
		r.Transport = &transportReport{Algorithm: t.Algorithm, KeyTransport: t.KeyTransport, Recipient: certInfo(t.Recipient)}
	}
	if o.Signature != nil {
		s := sigInfo(o.Signature, checked)
		r.Signature = &s
	}
	for _, c := range o.Containers {
		cr := containerReport{ID: c.ID, EncryptedData: c.EncryptedDataID, Reader: certInfo(c.Reader)}
		for _, s := range c.Signatures {
			cr.Signatures = append(cr.Signatures, sigInfo(s, checked))
		}
		for _, ct := range c.Contents {
			cc := contentReport{ID: ct.ID, Size: ct.Size, SHA256: hex.EncodeToString(ct.SHA256)}
			if ct.Attachment != nil {
				cc.Attachment = ct.Attachment.ContentID
			}
			cr.Contents = append(cr.Contents, cc)
		}
		r.Containers = append(r.Containers, cr)
	}
	for _, u := range o.Undecrypted {
		r.Undecrypted = append(r.Undecrypted, undecryptedReport{ID: u.ID, Recipients: u.Recipients})
	}
	for _, a := range o.Attachments {
		ar := attachmentReport{ContentID: a.ContentID, WireSize: a.WireSize, WireSHA256: hex.EncodeToString(a.WireSHA256), Encrypted: a.Encrypted, Decrypted: a.Decrypted}
		if !a.Encrypted || a.Decrypted {
			ar.Size, ar.SHA256 = a.Size, hex.EncodeToString(a.SHA256)
		}
		r.Attachments = append(r.Attachments, ar)
	}
	for _, p := range o.ProcessCards {
		r.ProcessCards = append(r.ProcessCards, cardReport{MessageID: p.MessageID, Creation: ts(p.Creation), Forwarding: ts(p.Forwarding), Reception: ts(p.Reception), Subject: p.Subject})
	}
	return r
}

// flattenErrors unpacks errors.Join trees into their leaves.
func flattenErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

func okText(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAILED"
}

func printCert(w io.Writer, indent string, c *certReport) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "%ssubject:     %s\n%sissuer:      %s\n%sserial:      %s\n%svalid:       %s – %s\n%sSHA-256:     %s\n",
		indent, c.Subject, indent, c.Issuer, indent, c.Serial, indent, c.NotBefore, c.NotAfter, indent, c.Fingerprint)
}

func printSignature(w io.Writer, indent string, s *signatureReport) {
	fmt.Fprintf(w, "%s%s (%s): %s\n", indent, s.Block, s.Method, okText(s.OK))
	printCert(w, indent+"  ", s.Signer)
	fmt.Fprintf(w, "%s  certificate: %s\n", indent, s.Certificate)
	fmt.Fprintf(w, "%s  signature value: %s\n", indent, okText(s.ValueOK))
	for _, r := range s.References {
		line := fmt.Sprintf("%s  reference %-45s %s", indent, r.URI, okText(r.OK))
		if r.Error != "" {
			line += "  (" + r.Error + ")"
		}
		fmt.Fprintln(w, line)
	}
}

func printReport(w io.Writer, r *openReport) {
	fmt.Fprintf(w, "message type:  %s\n", r.Type)
	if r.MessageID != "" {
		fmt.Fprintf(w, "message id:    %s\n", r.MessageID)
	}
	if r.Subject != "" {
		fmt.Fprintf(w, "subject:       %s\n", r.Subject)
	}
	if len(r.ControlBlock) > 0 {
		b, _ := json.Marshal(r.ControlBlock)
		fmt.Fprintf(w, "control block: %s\n", b)
	}
	for _, f := range r.Feedback {
		fmt.Fprintf(w, "feedback:      %s\n", f)
	}
	if r.Fault != "" {
		fmt.Fprintf(w, "fault:         %s\n", r.Fault)
	}
	if t := r.Transport; t != nil {
		fmt.Fprintf(w, "transport:     encrypted (%s, key %s), decrypted for:\n", t.Algorithm, t.KeyTransport)
		printCert(w, "  ", t.Recipient)
	} else {
		fmt.Fprintln(w, "transport:     not encrypted")
	}
	if r.Signature != nil {
		printSignature(w, "", r.Signature)
	} else {
		fmt.Fprintln(w, "signature:     none")
	}
	for _, c := range r.Containers {
		how := "sent in the clear"
		if c.EncryptedData != "" {
			how = "decrypted from " + c.EncryptedData
			if c.Reader != nil {
				how += " for " + c.Reader.Subject
			}
		}
		fmt.Fprintf(w, "container %s (%s)\n", c.ID, how)
		for i := range c.Signatures {
			printSignature(w, "  ", &c.Signatures[i])
		}
		for _, ct := range c.Contents {
			kind := "inline"
			if ct.Attachment != "" {
				kind = "attachment " + ct.Attachment
			}
			fmt.Fprintf(w, "  content %-12s %-30s %9d bytes  sha256 %s\n", ct.ID, kind, ct.Size, ct.SHA256)
		}
	}
	for _, u := range r.Undecrypted {
		fmt.Fprintf(w, "not decrypted: %s (for %s)\n", u.ID, strings.Join(u.Recipients, ", "))
	}
	for _, a := range r.Attachments {
		state := "plain"
		switch {
		case a.Encrypted && a.Decrypted:
			state = fmt.Sprintf("encrypted, plaintext %d bytes sha256 %s", a.Size, a.SHA256)
		case a.Encrypted:
			state = "encrypted, not decrypted"
		}
		fmt.Fprintf(w, "attachment %-30s %9d bytes on the wire  sha256 %s  (%s)\n", a.ContentID, a.WireSize, a.WireSHA256, state)
	}
	for _, p := range r.ProcessCards {
		fmt.Fprintf(w, "process card %s: creation %s, forwarding %s, reception %s\n", p.MessageID, p.Creation, p.Forwarding, p.Reception)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error:         %s\n", e)
	}
	fmt.Fprintf(w, "result:        %s\n", okText(r.OK))
}

// writeContents writes decrypted contents (content id) and attachments
// (their Content-ID) into dir.
func writeContents(o *osci.Opened, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	safe := func(name string) string { return strings.NewReplacer("/", "_", `\`, "_", "..", "_").Replace(name) }
	for _, c := range o.Containers {
		for _, ct := range c.Contents {
			if ct.Data != nil {
				if err := os.WriteFile(filepath.Join(dir, safe(ct.ID)), ct.Data, 0o600); err != nil {
					return err
				}
			}
		}
	}
	for _, a := range o.Attachments {
		r, err := a.Open()
		if err != nil {
			continue // encrypted for someone else
		}
		f, err := os.OpenFile(filepath.Join(dir, safe(a.ContentID)), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
