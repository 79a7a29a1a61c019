package testvectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/xauslaender"
)

// sendDefect delivers content with a deliberate defect into the vendor's
// mailbox.
//
// ADAPTER: osci.Client builds a delivery's content itself, so content with
// a defect cannot go through it. This composes the storeDelivery with
// osci.Compose and posts it the way the client does for an implicit
// dialog (transport-encrypted, the response verified against the pinned
// intermediary signature certificate, the challenge echo checked). An
// option to hand the client prepared content (osci.RawContent) would
// replace it; see docs/notes/issue-6.md.
func (rn *runner) sendDefect(ctx context.Context, d contentDefect, subject string, doc []byte) (string, error) {
	if d.author != "" {
		if e, err := rn.pki.entity(d.author); err == nil {
			now := time.Now()
			if !now.Before(e.Certificate.NotBefore) && !now.After(e.Certificate.NotAfter) && d.class != ClassOSCICertRevoked {
				return "", errSkip{fmt.Sprintf("the certificate %s is valid today (%s to %s): the defect only holds at the kit's reference time",
					d.author, e.Certificate.NotBefore.Format("2006-01-02"), e.Certificate.NotAfter.Format("2006-01-02"))}
			}
		}
	}
	sender := rn.pki.mustIdentity(entSenderSig)
	cipher := rn.pki.mustIdentity(entSenderCipher)
	id, err := rn.kit.GetMessageID(ctx)
	if err != nil {
		return "", err
	}
	rc, certs, closer, err := buildDefectContent(d, rn.pki, sender, rn.o.VendorCipher, rn.pki.cert(entReaderCipher), doc, rn.spool)
	if err != nil {
		return id, err
	}
	defer closer.Close()
	sigID := osci.CertID("originator", "signature", sender.Certificate)
	nonInter := []osci.CertEntry{{Element: osci.CipherCertificateOriginator, ID: osci.CertID("originator", "cipher", cipher.Certificate), Cert: cipher.Certificate}}
	nonInter = append(nonInter, certs...)
	nonInter = append(nonInter, osci.CertEntry{Element: osci.SignatureCertificateOriginator, ID: sigID, Cert: sender.Certificate})
	challenge := osci.NewChallenge()
	m := &osci.Message{
		Type:            osci.TypeStoreDelivery,
		ControlBlock:    osci.ControlBlock{SequenceNumber: 0, Challenge: challenge},
		Languages:       "de",
		Features:        &osci.FeatureDescription{Features: osci.DefaultFeatures},
		Timestamps:      []osci.TimestampQuality{{Service: "creation", Quality: "plain"}, {Service: "reception", Quality: "plain"}},
		MessageID:       id,
		Subject:         subject,
		NonIntermediary: nonInter,
	}
	out, err := osci.Compose(m, osci.ComposeOptions{Signing: &osci.Signing{Identity: sender}, SignerCertID: sigID,
		TransportTo: rn.target.IntermediaryCipher, Content: rc, SpoolDir: rn.spool})
	if err != nil {
		return id, err
	}
	defer out.Close()
	n, err := out.Len()
	if err != nil {
		return id, err
	}
	body, err := out.Reader()
	if err != nil {
		return id, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rn.target.URL, body)
	if err != nil {
		return id, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "text/xml")
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return id, err
	}
	defer resp.Body.Close()
	o, err := osci.Open(resp.Body, osci.OpenOptions{Keys: []*keystore.Identity{cipher}, Signer: rn.target.IntermediarySignature,
		Policy: rn.target.Policy, SpoolDir: rn.spool})
	if o == nil {
		return id, fmt.Errorf("response to storeDelivery: %w", err)
	}
	defer o.Close()
	switch {
	case o.Type == osci.TypeFault && o.Fault != nil:
		return id, o.Fault
	case err != nil:
		return id, fmt.Errorf("response to storeDelivery: %w", err)
	case o.Type != osci.TypeResponseToStoreDelivery:
		return id, fmt.Errorf("storeDelivery answered with %s", o.Type)
	case o.ControlBlock.Response != challenge:
		return id, errors.New("the response does not echo the request's challenge")
	}
	return id, o.Feedback.Err()
}

// errSkip marks a vector that does not apply to a live run.
type errSkip struct{ why string }

func (e errSkip) Error() string { return e.why }

var uuidInText = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// tagText returns the texts of all elements with the local name tag.
func tagText(data []byte, tag string) []string {
	doc, err := safexml.Parse(data, xauslaender.Limits)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range doc.FindElements("//*") {
		if e.Tag == tag {
			if t := strings.TrimSpace(e.Text()); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}
