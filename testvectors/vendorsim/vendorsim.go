// Package vendorsim simulates the case system (Fachverfahren) of a
// foreign-residents office, so the conformance runner can be tested end to
// end and tried out without a vendor: it fetches deliveries from the
// office's mailbox at an OSCI intermediary, reads every XAusländer message
// the way a conforming reader must (the kit's checker: XSD, code lists,
// header rules) and answers it — or, misbehaving, answers the way faulty
// systems do, so the runner's failure reports can be seen and tested.
package vendorsim

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/testvectors"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
	x "github.com/xagw/xagw/xauslaender/v2611"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Behaviour selects how the simulated case system answers.
type Behaviour string

const (
	// WellBehaved answers a valid message with an OZG.Statusmeldung (an
	// OZG.RuecknahmeReaktion for a Rücknahme), an invalid one whose id it
	// can read with an XInneres Rückweisung, and nothing it cannot open.
	// Replies are signed and encrypted for the sender.
	WellBehaved Behaviour = "good"
	// Misbehaving accepts everything it can decrypt (a Statusmeldung even
	// for invalid messages), links its answer to a Rücknahme to a wrong
	// message, and sends its replies unsigned.
	Misbehaving Behaviour = "bad"
)

// Config configures a simulated case system.
type Config struct {
	// Target is the intermediary holding the office's mailbox.
	Target testvectors.Target
	// Signer and Cipher are the office's identities; Cipher's certificate
	// is the mailbox.
	Signer, Cipher *keystore.Identity
	// Policy checks the certificates of the intermediary and of content
	// signers (default Target.Policy). A conforming case system checks
	// validity, chain and revocation.
	Policy *keystore.Policy
	// Bundle is the schema bundle messages are checked with and replies
	// built from.
	Bundle    *schemas.Bundle
	Behaviour Behaviour
	// Poll is the mailbox polling interval (default 200 ms).
	Poll time.Duration
	// SpoolDir holds large attachments while processed.
	SpoolDir string
	Logger   *slog.Logger
}

// Kit returns what a case system of the conformance kit's office uses: the
// ABH's signature and cipher identities from the kit PKI in dir (the
// office the kit's messages are addressed to) and a policy that trusts the
// kit's root and checks revocation against its CRLs, at the current time.
func Kit(dir string) (signer, cipher *keystore.Identity, policy *keystore.Policy, err error) {
	p, err := testpki.Load(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, nil, nil, err
	}
	s, c := p.Entity("addressee-signature"), p.Entity("addressee-cipher")
	if s == nil || c == nil {
		return nil, nil, nil, errors.New("vendorsim: the kit PKI has no addressee identities")
	}
	policy = p.Policy()
	policy.Now = nil // live traffic: the current time
	return s.Identity(), c.Identity(), policy, nil
}

// Run fetches and answers deliveries until ctx ends. It returns nil when
// ctx ends and an error only when it cannot work at all.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Policy == nil {
		cfg.Policy = cfg.Target.Policy
	}
	if cfg.Behaviour != WellBehaved && cfg.Behaviour != Misbehaving {
		return fmt.Errorf("vendorsim: unknown behaviour %q (good or bad)", cfg.Behaviour)
	}
	client, err := osci.NewClient(osci.Config{
		URL: cfg.Target.URL, IntermediaryCipher: cfg.Target.IntermediaryCipher, IntermediarySignature: cfg.Target.IntermediarySignature,
		Signer: cfg.Signer, Cipher: cfg.Cipher, Policy: cfg.Policy, SpoolDir: cfg.SpoolDir, Logger: cfg.Logger,
	})
	if err != nil {
		return err
	}
	abh, err := samples.ABHSender(cfg.Bundle)
	if err != nil {
		return err
	}
	abh.Now = time.Now
	v := &vendor{cfg: cfg, client: client, checker: testvectors.NewXAChecker(cfg.Bundle), abh: abh, log: cfg.Logger.With("component", "vendorsim")}
	for {
		n := v.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if n == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(cfg.Poll):
			}
		}
	}
}

// round opens a dialog and fetches and answers deliveries until the
// mailbox is empty. It returns how many it fetched.
func (v *vendor) round(ctx context.Context) int {
	s, err := v.client.Dialog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			v.log.WarnContext(ctx, "opening a dialog failed", "error", err)
		}
		return 0
	}
	n := 0
	for {
		f, err := s.FetchDelivery(ctx, osci.FetchSelection{})
		switch {
		case ctx.Err() != nil:
			return n
		case errors.Is(err, osci.ErrNoDelivery):
			s.ExitDialog(ctx)
			return n
		case err != nil:
			// A delivery that does not decrypt or verify: a real system
			// quarantines it for an administrator; there is nobody to
			// answer (its content is unreadable or untrustworthy). The
			// dialog is out of step after a refused response: start anew.
			v.log.WarnContext(ctx, "delivery refused", "error", err)
			return n + 1
		}
		n++
		v.handle(ctx, f)
		f.Close()
	}
}

type vendor struct {
	cfg     Config
	client  *osci.Client
	checker *testvectors.XAChecker
	abh     *xauslaender.Sender
	log     *slog.Logger
}

func (v *vendor) handle(ctx context.Context, f *osci.Fetched) {
	sender := f.Message.Cert(osci.CipherCertificateOriginator)
	if sender == nil {
		v.log.WarnContext(ctx, "delivery without the sender's cipher certificate: cannot answer", "message_id", f.DeliveryID())
		return
	}
	for _, c := range f.Containers {
		for _, ct := range c.Contents {
			if ct.Data == nil {
				continue
			}
			reply, err := v.answer(ct.Data)
			if err != nil {
				v.log.WarnContext(ctx, "no answer", "message_id", f.DeliveryID(), "reason", err)
				continue
			}
			if err := v.send(ctx, sender, reply); err != nil {
				v.log.WarnContext(ctx, "sending the answer failed", "message_id", f.DeliveryID(), "error", err)
			}
		}
	}
}

// answer builds the reply to one XAusländer document.
func (v *vendor) answer(doc []byte) (xsd.Message, error) {
	res := v.checker.Check(doc)
	hf := res.Header
	readable := testvectors.IsUUID(hf.NachrichtenUUID) && hf.Autor != "" && hf.AutorName != ""
	if !readable {
		return nil, fmt.Errorf("the message cannot be answered (%s)", res.Class)
	}
	in := &xauslaender.Message{Header: xauslaender.Header{
		NachrichtenUUID: hf.NachrichtenUUID, Nachrichtentyp: hf.MessageType, Antragsidentifikation: hf.Antragsidentifikation,
		Autor: xauslaender.Behoerde{Verzeichnisdienst: "DVDV", Kennung: hf.Autor, Name: hf.AutorName},
	}}
	if v.cfg.Behaviour == WellBehaved && !res.Valid() {
		return v.rejection(doc, res, in)
	}
	if v.cfg.Behaviour == WellBehaved && !strings.HasPrefix(hf.Root, "OZG.") {
		// Administration messages (a resent message, a document package)
		// are processed without an answer.
		return nil, fmt.Errorf("%s needs no answer", hf.Root)
	}
	name := "statusmeldung"
	if hf.MessageType == x.CodeOZGRuecknahme130111 {
		name = "ruecknahme-reaktion"
		if v.cfg.Behaviour == Misbehaving {
			in.Header.NachrichtenUUID = randomUUID() // answers some other message
		}
	}
	s, ok := samples.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no sample %s", name)
	}
	m := s.Content()
	if err := v.abh.PrepareReply(m, in); err != nil {
		return nil, err
	}
	return m, nil
}

// rejection builds an XInneres Rückweisung of an invalid message, with the
// XInneres error code that fits the kit's error class.
func (v *vendor) rejection(doc []byte, res *testvectors.XAResult, in *xauslaender.Message) (xsd.Message, error) {
	s, ok := samples.Lookup("rueckweisung")
	if !ok {
		return nil, errors.New("no Rückweisung sample")
	}
	m, ok := s.Content().(*x.RueckweisungAsynchron0010)
	if !ok {
		return nil, fmt.Errorf("the Rückweisung sample is a %T", s.Content())
	}
	hf := res.Header
	reason := res.Class
	for _, f := range res.Findings {
		if f.Class == res.Class {
			reason = f.Message
			break
		}
	}
	if len(reason) > 500 {
		reason = reason[:500]
	}
	code := map[string]string{
		testvectors.ClassSchema: "X001", testvectors.ClassCodeList: "S011", testvectors.ClassNamespace: "V000",
		testvectors.ClassVersion: "V000", testvectors.ClassHeader: "S999",
	}[res.Class]
	if code == "" {
		code = "S999"
	}
	created := hf.Created
	if created == "" {
		created = string(xsd.DateTimeOf(time.Now().Truncate(time.Second)))
	}
	typ := hf.MessageType
	if typ == "" {
		typ = "130101"
	}
	m.Rueckweisung.Rueckweisungsgrund[0].Grund.Code = code
	m.Rueckweisung.Rueckweisungsgrund[0].GrundSpezifisch[0].Fehlerbeschreibung = xsd.Ptr(reason)
	m.Rueckweisung.Transportinformationen = nil
	m.Rueckweisung.IdNachricht.NachrichtenUUID = hf.NachrichtenUUID
	m.Rueckweisung.IdNachricht.Nachrichtentyp.Code = typ
	m.Rueckweisung.IdNachricht.Erstellungszeitpunkt = xsd.DateTime(created)
	m.Rueckweisung.Nachricht = doc
	if err := v.abh.PrepareReply(m, in); err != nil {
		return nil, err
	}
	return m, nil
}

// send stores the reply in the sender's mailbox: signed and encrypted for
// it (the misbehaving system forgets the signature).
func (v *vendor) send(ctx context.Context, to *x509.Certificate, m xsd.Message) error {
	data, err := xauslaender.Marshal(m)
	if err != nil {
		return err
	}
	id, err := v.client.GetMessageID(ctx)
	if err != nil {
		return err
	}
	code := xauslaender.HeaderOf(m).Nachrichtentyp
	_, err = v.client.StoreDelivery(ctx, &osci.Delivery{MessageID: id, Subject: code, Addressee: to, Containers: []osci.ContentContainer{{
		Sign: v.cfg.Behaviour == WellBehaved, EncryptFor: []*x509.Certificate{to}, Contents: []osci.Content{{Data: data}},
	}}})
	return err
}

func randomUUID() string {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("vendorsim: crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
