package osci

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/xagw/xagw/osci/keystore"
)

// RecipientConfig configures a passive recipient: an endpoint the
// intermediary pushes orders to (forwardDelivery → acceptDelivery,
// mediateDelivery → processDelivery).
type RecipientConfig struct {
	// Signer signs the responses (as SignatureCertificateAddressee).
	Signer *keystore.Identity
	// Cipher decrypts the transport encryption and the content.
	Cipher *keystore.Identity
	// IntermediarySignature pins the intermediary's signature certificate;
	// otherwise Policy must accept it.
	IntermediarySignature *x509.Certificate
	Policy                *keystore.Policy
	// Accept is called for a forwarded delivery (acceptDelivery). Returning
	// an error refuses it (9805). The *Opened is closed after Accept returns.
	Accept func(ctx context.Context, o *Opened) error
	// Process is called for a mediated request (processDelivery). It returns
	// the answer; its MessageID is filled in from the order's
	// MessageIdResponse, its Addressee is the originator's cipher
	// certificate unless set. Returning an error refuses the order (9805).
	Process func(ctx context.Context, o *Opened) (*Delivery, error)
	// SpoolDir, MaxMessage: spooling and size limit of incoming orders.
	SpoolDir   string
	MaxMessage int64
	Logger     *slog.Logger
}

// Recipient is an http.Handler for a passive OSCI recipient.
type Recipient struct {
	cfg RecipientConfig
	log *slog.Logger
}

// NewRecipient checks cfg and returns the handler.
func NewRecipient(cfg RecipientConfig) (*Recipient, error) {
	if cfg.Signer == nil || cfg.Cipher == nil {
		return nil, errors.New("osci: a passive recipient needs Signer and Cipher identities")
	}
	if cfg.IntermediarySignature == nil && cfg.Policy == nil {
		return nil, errors.New("osci: set RecipientConfig.IntermediarySignature or Policy")
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 1 << 30
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Recipient{cfg: cfg, log: log.With("component", "osci.recipient")}, nil
}

func (rc *Recipient) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "OSCI expects POST", http.StatusMethodNotAllowed)
		return
	}
	body := http.MaxBytesReader(w, r.Body, rc.cfg.MaxMessage)
	o, err := Open(body, OpenOptions{Keys: []*keystore.Identity{rc.cfg.Cipher}, Policy: rc.cfg.Policy,
		Signer: rc.cfg.IntermediarySignature, SpoolDir: rc.cfg.SpoolDir})
	if o != nil {
		defer o.Close()
	}
	if o == nil {
		rc.log.WarnContext(r.Context(), "unreadable order", "error", err)
		WriteFault(w, faultCodeOf(err), "")
		return
	}
	if o.Type != TypeAcceptDelivery && o.Type != TypeProcessDelivery {
		WriteFault(w, CodeNoValidOrderData, "this endpoint accepts acceptDelivery and processDelivery only")
		return
	}
	var fb Feedback
	var answer *Delivery
	if err != nil {
		fb = NewFeedback(Code(orderCodeOf(err)))
	} else {
		switch o.Type {
		case TypeAcceptDelivery:
			if rc.cfg.Accept == nil {
				err = errors.New("no Accept handler")
			} else {
				err = rc.cfg.Accept(r.Context(), o)
			}
		case TypeProcessDelivery:
			if rc.cfg.Process == nil {
				err = errors.New("no Process handler")
			} else {
				answer, err = rc.cfg.Process(r.Context(), o)
			}
		}
		if err != nil {
			fb = NewFeedback(CodeNotAccepted)
		} else {
			fb = NewFeedback(CodeOK)
		}
	}
	rc.log.InfoContext(r.Context(), "osci order", "type", o.Type.String(), "message_id", cardID(o), "feedback", feedbackCodes(fb))
	out, err := rc.respond(o, fb, answer)
	if err != nil {
		rc.log.ErrorContext(r.Context(), "composing response", "error", err)
		WriteFault(w, CodeInternalServer, "")
		return
	}
	defer out.Close()
	if err := WriteOutgoing(w, out); err != nil {
		rc.log.WarnContext(r.Context(), "writing response", "error", err)
	}
}

func cardID(o *Opened) string {
	if len(o.ProcessCards) > 0 {
		return o.ProcessCards[0].MessageID
	}
	return ""
}

// respond builds the signed response, transport-encrypted to the
// intermediary's cipher certificate.
func (rc *Recipient) respond(req *Opened, fb Feedback, answer *Delivery) (*Outgoing, error) {
	sigCert := rc.cfg.Signer.Certificate
	sigID := CertID("addressee", "signature", sigCert)
	m := &Message{
		Type:            req.Type.Response(),
		ControlBlock:    ResponseControlBlock(req.Type.Response(), req.ControlBlock, ""),
		Feedback:        fb,
		NonIntermediary: []CertEntry{{SignatureCertificateAddressee, sigID, sigCert}},
	}
	signing := &Signing{Identity: rc.cfg.Signer}
	opts := ComposeOptions{Signing: signing, SignerCertID: sigID, TransportTo: req.Message.Cert(CipherCertificateIntermediary), SpoolDir: rc.cfg.SpoolDir}
	if opts.TransportTo == nil && req.Transport != nil {
		return nil, errors.New("the order carries no CipherCertificateIntermediary to encrypt the response to")
	}
	if m.Type == TypeResponseToProcessDelivery && answer != nil && fb.Err() == nil {
		if answer.MessageID == "" {
			answer.MessageID = req.MessageIDResponse
		}
		if answer.Addressee == nil {
			answer.Addressee = req.Message.Cert(CipherCertificateOriginator)
		}
		if answer.Addressee == nil {
			return nil, errors.New("the order carries no originator cipher certificate for the answer")
		}
		content, certs, closer, err := BuildContent(answer, signing, sigID, rc.cfg.SpoolDir)
		if err != nil {
			return nil, fmt.Errorf("building the answer: %w", err)
		}
		m.MessageID, m.Subject = answer.MessageID, answer.Subject
		m.NonIntermediary = append(certs, m.NonIntermediary...)
		opts.Content = content
		out, err := Compose(m, opts)
		if err != nil {
			closer.Close()
			return nil, err
		}
		out.closers = append(out.closers, closer)
		return out, nil
	}
	return Compose(m, opts)
}

// faultCodeOf maps an Open failure to the message-level fault code.
func faultCodeOf(err error) Code {
	var de *DecryptError
	var pe *ParseError
	switch {
	case errors.As(err, &de):
		return Code(de.Code())
	case errors.As(err, &pe):
		return CodeStructureInvalid
	}
	return CodeNoValidOrderData
}

// orderCodeOf maps a verification failure to the order-level feedback code.
func orderCodeOf(err error) string {
	var se *SignatureError
	if errors.As(err, &se) {
		return se.Code()
	}
	var de *DecryptError
	if errors.As(err, &de) {
		return de.Code()
	}
	return string(CodeNoValidOrderData)
}
