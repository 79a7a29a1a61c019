package testvectors

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xagw/xagw/osci"
)

// XAusländer documents the OSCI vectors carry (kit paths of XA vectors).
const (
	docAntrag          = "xauslaender/valid/130101-antrag-familiennachzug.xml"
	docAntragLarge     = "xauslaender/valid/130101-antrag-erwerbstaetigkeit.xml"
	docStatusmeldung   = "xauslaender/valid/130104-statusmeldung.xml"
	osciValidDir       = "osci/valid"
	osciInvalidDir     = "osci/invalid"
	partialChunkKB     = 16
	subjectApplication = "130101"
)

// osciGen builds the OSCI vectors of a kit.
type osciGen struct {
	k   *kit
	pki *kitPKI
	w   *world
	env *osciEnv
}

func osciVectors(ctx context.Context, k *kit, o GenerateOptions) error {
	pki, err := loadKitPKI(o.Dir)
	if err != nil {
		return err
	}
	for _, p := range []string{docAntrag, docAntragLarge, docStatusmeldung} {
		if k.files[p] == nil {
			return fmt.Errorf("the XAusländer vector %s the OSCI vectors carry is missing", p)
		}
	}
	w, err := newWorld(pki, k.files[docStatusmeldung])
	if err != nil {
		return err
	}
	defer w.close()
	env := &osciEnv{pki: pki, xaBy: map[string]string{}, spool: w.dir}
	for _, v := range k.vectors {
		if v.Kind == KindXAuslaender {
			env.xaBy[v.Inputs[0].SHA256] = v.ID
		}
	}
	g := &osciGen{k: k, pki: pki, w: w, env: env}
	if err := g.scenarios(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// keysFor lists the key material of a vector for the manifest.
func (g *osciGen) keysFor(transport string, readers []string, signers []string) []Key {
	var keys []Key
	if transport != "" {
		keys = append(keys, Key{Role: "decrypt-transport", Entity: transport, Files: g.pki.files(transport)})
	}
	for _, r := range readers {
		if r != "" && r != transport {
			keys = append(keys, Key{Role: "decrypt-content", Entity: r, Files: g.pki.files(r)})
		}
	}
	for _, s := range signers {
		if s != "" && !strings.HasPrefix(s, "foreign:") {
			keys = append(keys, Key{Role: "signer", Entity: s, Files: []string{"pki/" + s + ".cert.pem"}})
		}
	}
	keys = append(keys,
		Key{Role: "trust-anchor", Entity: "root-ca", Files: []string{"pki/root-ca.cert.pem", "pki/ca-chain.pem"}},
		Key{Role: "crl", Files: []string{"pki/root-ca.crl.pem", "pki/issuing-ca.crl.pem"}})
	return keys
}

// addValid turns a recorded message into a vector whose expectation is
// checked against what the generator knows (type, message id, the
// XAusländer content it put in).
func (g *osciGen) addValid(id, purpose string, m recordedMessage, want wantValid, vendor *VendorExpect) error {
	ex, typ, err := g.env.expectValid(bytesSource(m.data), m.transport, nil)
	if err != nil {
		return fmt.Errorf("%s: recorded %s does not open cleanly: %w", id, m.typ, err)
	}
	if typ != m.typ {
		return fmt.Errorf("%s: recorded %s opens as %s", id, m.typ, typ)
	}
	if want.messageID != "" {
		found := ex.MessageID == want.messageID
		for _, pc := range ex.ProcessCards {
			found = found || pc.MessageID == want.messageID
		}
		if !found {
			return fmt.Errorf("%s: neither the message id %q nor a process card names the id the scenario used, %q", id, ex.MessageID, want.messageID)
		}
	}
	for reader, doc := range want.content {
		found := false
		for _, r := range ex.Readers {
			if r.Key != reader && r.Key != "" { // "": content without content encryption
				continue
			}
			for _, c := range r.Containers {
				for _, ct := range c.Contents {
					found = found || ct.SHA256 == HashBytes("", g.k.files[doc]).SHA256
				}
			}
		}
		if !found {
			return fmt.Errorf("%s: reader %s does not see %s", id, reader, doc)
		}
	}
	var readers, signers []string
	for _, r := range ex.Readers {
		readers = append(readers, r.Key)
		for _, c := range r.Containers {
			for _, s := range c.Signatures {
				signers = append(signers, s.Signer)
			}
		}
	}
	if ex.Signature != nil {
		signers = append([]string{ex.Signature.Signer}, signers...)
	}
	p := osciValidDir + "/" + strings.TrimPrefix(id, "osci.valid.") + ".mime"
	g.k.vectors = append(g.k.vectors, Vector{
		ID: id, Kind: KindOSCI, Purpose: purpose,
		Inputs: []File{g.k.add(p, m.data)},
		Keys:   g.keysFor(ex.TransportKey, readers, dedupe(signers)),
		Expect: Expect{Outcome: OutcomeAccept, MessageType: typ.String(), OSCI: ex},
		Vendor: vendor,
	})
	return nil
}

// wantValid is what the generator knows about a recorded message.
type wantValid struct {
	messageID string
	content   map[string]string // reader entity → XAusländer document path
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func (g *osciGen) delivery(v deliveryVariant, id, doc string) *osci.Delivery {
	addr := g.pki.cert(v.abhCipher)
	return &osci.Delivery{MessageID: id, Subject: subjectApplication, Addressee: addr,
		Containers: v.containers(addr, g.pki.cert(entReaderCipher), g.k.files[doc])}
}

func (g *osciGen) scenarios(ctx context.Context) error {
	w := g.w
	sender, err := w.client("sender", entSenderSig, entSenderCipher, "")
	if err != nil {
		return err
	}
	abh, err := w.client("abh", entABHSig, entABHCipher, "")
	if err != nil {
		return err
	}
	inline, _ := variantByName("store-inline")
	signedEnc, _ := variantByName("store-signed-encrypted")
	abhContent := func(v deliveryVariant, doc string) map[string]string { return map[string]string{v.abhCipher: doc} }

	// Explicit dialog: initDialog, getMessageId, storeDelivery, exitDialog.
	var inlineID string
	ms, err := w.scenario("dialog", func(ctx context.Context) error {
		s, err := sender.Dialog(ctx)
		if err != nil {
			return err
		}
		if inlineID, err = s.GetMessageID(ctx); err != nil {
			return err
		}
		if _, err := s.StoreDelivery(ctx, g.delivery(inline, inlineID, docAntrag)); err != nil {
			return err
		}
		return s.ExitDialog(ctx)
	})
	if err != nil {
		return err
	}
	type keep struct {
		t       osci.MessageType
		id      string
		purpose string
		want    wantValid
		vendor  *VendorExpect
		last    bool
	}
	add := func(ms []recordedMessage, ks ...keep) error {
		for _, k := range ks {
			m, err := pick(ms, k.t)
			if k.last {
				m, err = pickLast(ms, k.t)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", k.id, err)
			}
			if err := g.addValid(k.id, k.purpose, m, k.want, k.vendor); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(ms,
		keep{t: osci.TypeInitDialog, id: "osci.valid.dialog.initDialog", purpose: "Opens an explicit dialog: ControlBlock with a fresh Challenge, no ConversationId yet; client signature certificate and cipher certificate."},
		keep{t: osci.TypeResponseToInitDialog, id: "osci.valid.dialog.responseToInitDialog", purpose: "The intermediary's answer: ConversationId, the echoed challenge as Response, its own Challenge; SupplierSignature; transport-encrypted to the client."},
		keep{t: osci.TypeGetMessageID, id: "osci.valid.dialog.getMessageId", purpose: "Asks for a message id inside the dialog (SequenceNumber 1, Response echoes the last challenge)."},
		keep{t: osci.TypeResponseToGetMessageID, id: "osci.valid.dialog.responseToGetMessageId", purpose: "Carries the issued MessageId (base64 of its UTF-8 bytes).", want: wantValid{messageID: inlineID}},
		keep{t: osci.TypeExitDialog, id: "osci.valid.dialog.exitDialog", purpose: "Closes the dialog."},
		keep{t: osci.TypeResponseToExitDialog, id: "osci.valid.dialog.responseToExitDialog", purpose: "Confirms the dialog is closed (feedback 0800)."},
		keep{t: osci.TypeStoreDelivery, id: "osci.valid.store-inline.storeDelivery", purpose: "storeDelivery of an OZG.Antrag to the ABH inside the dialog. " + inline.purpose,
			want: wantValid{messageID: inlineID, content: abhContent(inline, docAntrag)}, vendor: &VendorExpect{Reply: ReplyPositive, Delivery: inline.name}},
		keep{t: osci.TypeResponseToStoreDelivery, id: "osci.valid.store-inline.responseToStoreDelivery", purpose: "The intermediary confirms the storage with the process card (creation time, certificate inspections).", want: wantValid{messageID: inlineID}},
	); err != nil {
		return err
	}

	// The ABH fetches it: the message a case system actually receives.
	ms, err = w.scenario("fetch/store-inline", func(ctx context.Context) error {
		f, err := abh.FetchDelivery(ctx, osci.FetchSelection{MessageID: inlineID})
		if err != nil {
			return err
		}
		return f.Close()
	})
	if err != nil {
		return err
	}
	if err := add(ms,
		keep{t: osci.TypeFetchDelivery, id: "osci.valid.store-inline.fetchDelivery", purpose: "The ABH's fetchDelivery for one message id (selection in the header, empty Body), in an explicit dialog."},
		keep{t: osci.TypeResponseToFetchDelivery, id: "osci.valid.store-inline.responseToFetchDelivery", purpose: "What the case system receives: the stored delivery with its process card, signed by the intermediary, transport-encrypted to the ABH, the content still encrypted for the ABH.",
			want: wantValid{messageID: inlineID, content: abhContent(inline, docAntrag)}},
	); err != nil {
		return err
	}

	// The sender reads the process card: reception by the ABH is recorded.
	ms, err = w.scenario("process-card", func(ctx context.Context) error {
		_, err := sender.FetchProcessCard(ctx, inlineID)
		return err
	})
	if err != nil {
		return err
	}
	if err := add(ms,
		keep{t: osci.TypeFetchProcessCard, id: "osci.valid.process-card.fetchProcessCard", purpose: "The sender asks for the process card (Laufzettel) of its delivery (selection in the Body)."},
		keep{t: osci.TypeResponseToFetchProcessCard, id: "osci.valid.process-card.responseToFetchProcessCard", purpose: "The process card with creation, forwarding and reception (fetch by the ABH) times."},
	); err != nil {
		return err
	}

	// Every other storeDelivery shape, and the ABH's view of each.
	for _, v := range deliveryVariants {
		if v.name == inline.name {
			continue
		}
		c, err := w.client("sender/"+v.name, v.signer, entSenderCipher, v.method)
		if err != nil {
			return err
		}
		var id string
		ms, err := w.scenario("store/"+v.name, func(ctx context.Context) error {
			var err error
			if id, err = c.GetMessageID(ctx); err != nil {
				return err
			}
			_, err = c.StoreDelivery(ctx, g.delivery(v, id, docAntrag))
			return err
		})
		if err != nil {
			return err
		}
		if err := add(ms, keep{t: osci.TypeStoreDelivery, id: "osci.valid." + v.name + ".storeDelivery", purpose: "storeDelivery of an OZG.Antrag. " + v.purpose,
			want: wantValid{messageID: id, content: abhContent(v, docAntrag)}, vendor: &VendorExpect{Reply: ReplyPositive, Delivery: v.name}}); err != nil {
			return err
		}
		fetcher := abh
		if v.abhCipher != entABHCipher {
			if fetcher, err = w.client("abh/"+v.abhCipher, entABHSig, v.abhCipher, ""); err != nil {
				return err
			}
		}
		ms, err = w.scenario("fetch/"+v.name, func(ctx context.Context) error {
			f, err := fetcher.FetchDelivery(ctx, osci.FetchSelection{MessageID: id})
			if err != nil {
				return err
			}
			return f.Close()
		})
		if err != nil {
			return err
		}
		if err := add(ms, keep{t: osci.TypeResponseToFetchDelivery, id: "osci.valid." + v.name + ".responseToFetchDelivery",
			purpose: "The ABH's view of the delivery: " + v.purpose, want: wantValid{messageID: id, content: abhContent(v, docAntrag)}}); err != nil {
			return err
		}
	}

	// Passive recipient: forwardDelivery → acceptDelivery.
	var fwdID string
	ms, err = w.scenario("forward", func(ctx context.Context) error {
		var err error
		if fwdID, err = sender.GetMessageID(ctx); err != nil {
			return err
		}
		_, err = sender.ForwardDelivery(ctx, passiveURI, g.delivery(signedEnc, fwdID, docAntrag))
		return err
	})
	if err != nil {
		return err
	}
	if err := add(ms,
		keep{t: osci.TypeForwardDelivery, id: "osci.valid.forward.forwardDelivery", purpose: "forwardDelivery of a signed, encrypted OZG.Antrag to a passive recipient (ContentReceiver URI).", want: wantValid{messageID: fwdID, content: abhContent(signedEnc, docAntrag)}},
		keep{t: osci.TypeAcceptDelivery, id: "osci.valid.forward.acceptDelivery", purpose: "The intermediary pushes the delivery to the passive recipient (ClientSignature of the intermediary), transport-encrypted to the recipient.", want: wantValid{messageID: fwdID, content: abhContent(signedEnc, docAntrag)}},
		keep{t: osci.TypeResponseToAcceptDelivery, id: "osci.valid.forward.responseToAcceptDelivery", purpose: "The passive recipient accepts (feedback 0800), signed with its signature certificate."},
		keep{t: osci.TypeResponseToForwardDelivery, id: "osci.valid.forward.responseToForwardDelivery", purpose: "The intermediary reports the acceptance with the process card.", want: wantValid{messageID: fwdID}},
	); err != nil {
		return err
	}

	// Passive recipient with an answer: mediateDelivery → processDelivery.
	ms, err = w.scenario("mediate", func(ctx context.Context) error {
		res, err := sender.MediateDelivery(ctx, passiveURI, g.delivery(signedEnc, "", docAntrag))
		if err != nil {
			return err
		}
		return res.Response.Close()
	})
	if err != nil {
		return err
	}
	if err := add(ms,
		keep{t: osci.TypeMediateDelivery, id: "osci.valid.mediate.mediateDelivery", purpose: "mediateDelivery of a signed, encrypted OZG.Antrag to a passive recipient that answers at once (explicit dialog).", want: wantValid{content: abhContent(signedEnc, docAntrag)}},
		keep{t: osci.TypeProcessDelivery, id: "osci.valid.mediate.processDelivery", purpose: "The intermediary hands the request to the passive recipient with the MessageIdResponse for the answer.", want: wantValid{content: abhContent(signedEnc, docAntrag)}},
		keep{t: osci.TypeResponseToProcessDelivery, id: "osci.valid.mediate.responseToProcessDelivery", purpose: "The recipient's answer: an OZG.Statusmeldung, signed by the ABH and encrypted for the original sender.", want: wantValid{content: map[string]string{entSenderCipher: docStatusmeldung}}},
		keep{t: osci.TypeResponseToMediateDelivery, id: "osci.valid.mediate.responseToMediateDelivery", purpose: "The intermediary relays the answer to the sender with both process cards.", want: wantValid{content: map[string]string{entSenderCipher: docStatusmeldung}}},
	); err != nil {
		return err
	}

	// Chunked transmission of a larger application.
	var partID string
	ms, err = w.scenario("partial-store", func(ctx context.Context) error {
		var err error
		if partID, err = sender.GetMessageID(ctx); err != nil {
			return err
		}
		_, err = sender.PartialStoreDelivery(ctx, g.delivery(signedEnc, partID, docAntragLarge), partialChunkKB)
		return err
	})
	if err != nil {
		return err
	}
	if err := add(ms,
		keep{t: osci.TypePartialStoreDelivery, id: "osci.valid.partial-store.first.partialStoreDelivery", purpose: fmt.Sprintf("Chunk 1 of a storeDelivery cut into %d KB chunks (ChunkInformation, the chunk as attachment), explicit dialog.", partialChunkKB)},
		keep{t: osci.TypeResponseToPartialStoreDelivery, id: "osci.valid.partial-store.first.responseToPartialStoreDelivery", purpose: "The intermediary acknowledges chunk 1 (ReceivedChunks)."},
		keep{t: osci.TypePartialStoreDelivery, id: "osci.valid.partial-store.last.partialStoreDelivery", purpose: "The last chunk of the same delivery.", last: true},
		keep{t: osci.TypeResponseToPartialStoreDelivery, id: "osci.valid.partial-store.last.responseToPartialStoreDelivery", purpose: "After the last chunk: the reassembled storeDelivery's feedback (InsideFeedback) and process card.", last: true},
	); err != nil {
		return err
	}
	ms, err = w.scenario("partial-fetch", func(ctx context.Context) error {
		f, err := abh.PartialFetchDelivery(ctx, partID, partialChunkKB)
		if err != nil {
			return err
		}
		return f.Close()
	})
	if err != nil {
		return err
	}
	if err := add(ms,
		keep{t: osci.TypePartialFetchDelivery, id: "osci.valid.partial-fetch.partialFetchDelivery", purpose: fmt.Sprintf("The ABH fetches the large delivery in %d KB chunks: request for chunk 1.", partialChunkKB)},
		keep{t: osci.TypeResponseToPartialFetchDelivery, id: "osci.valid.partial-fetch.responseToPartialFetchDelivery", purpose: "Chunk 1 of the responseToFetchDelivery, with TotalChunkNumbers."},
	); err != nil {
		return err
	}
	if err := g.contentNegatives(ctx); err != nil {
		return err
	}
	if err := g.orderNegatives(ctx); err != nil {
		return err
	}
	return g.largeAttachment(ctx)
}

// largeSize is the size of the on-demand attachment: large enough that a
// reader that holds messages in memory notices.
const largeSize = 100 << 20

// largeData is the on-demand attachment's content: pseudo-random bytes
// from the kit seed (incompressible, so no layer can shortcut it).
func largeData() io.Reader {
	return io.LimitReader(newDRBG([]byte(KitSeed), "large-attachment"), largeSize)
}

// largeAttachment records the on-demand vector: a storeDelivery with a
// 100 MiB encrypted attachment, composed like the recorded
// store-attachments order. Its bytes are written to a temporary file and
// only hashed unless the caller asked for the large files.
func (g *osciGen) largeAttachment(ctx context.Context) error {
	const id = "osci.valid.store-large-attachment.storeDelivery"
	base, err := g.recorded("osci.valid.store-attachments.storeDelivery")
	if err != nil {
		return err
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, largeData()); err != nil {
		return err
	}
	attSHA := hex.EncodeToString(sum.Sum(nil))
	tmp := filepath.Join(g.k.tmpDir, "large.mime")
	err = seededRand([]byte(KitSeed), "osci-large", func() error {
		o, err := g.env.open(base, entIntermediaryCipher, "")
		if o == nil {
			return err
		}
		defer o.Close()
		if err != nil {
			return err
		}
		sender := g.pki.mustIdentity(entSenderSig)
		sigID := osci.CertID("originator", "signature", sender.Certificate)
		abhCert := g.pki.cert(entABHCipher)
		rc, certs, closer, err := osci.BuildContent(&osci.Delivery{Addressee: abhCert, Containers: []osci.ContentContainer{{
			Sign: true, EncryptFor: []*x509.Certificate{abhCert}, Contents: []osci.Content{
				{Data: g.k.files[docAntrag]},
				{Attachment: &osci.Attachment{Name: "dokumentenpaket.bin", Size: largeSize, Open: func() (io.ReadCloser, error) { return io.NopCloser(largeData()), nil }}},
			}}}}, &osci.Signing{Identity: sender}, sigID, g.w.dir)
		if err != nil {
			return err
		}
		defer closer.Close()
		msg := o.Envelope.Message
		msg.NonIntermediary = replaceContentCerts(msg.NonIntermediary, certs)
		out, err := osci.Compose(&msg, osci.ComposeOptions{Signing: &osci.Signing{Identity: sender}, SignerCertID: sigID,
			TransportTo: g.pki.cert(entIntermediaryCipher), Content: rc, SpoolDir: g.w.dir})
		if err != nil {
			return err
		}
		defer out.Close()
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := out.WriteTo(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	ex, typ, err := g.env.expectValid(fileSource(tmp), entIntermediaryCipher, []string{entABHCipher})
	if err != nil {
		return fmt.Errorf("%s does not open cleanly: %w", id, err)
	}
	found := false
	for _, r := range ex.Readers {
		for _, c := range r.Containers {
			for _, ct := range c.Contents {
				found = found || (ct.SHA256 == attSHA && ct.Size == largeSize)
			}
		}
	}
	if !found || typ != osci.TypeStoreDelivery {
		return fmt.Errorf("%s: the ABH does not see the attachment", id)
	}
	file, err := HashFile(tmp)
	if err != nil {
		return err
	}
	file.Path, file.OnDemand = osciValidDir+"/store-large-attachment.storeDelivery.mime", true
	g.k.onDemand[file.Path] = onDemandFile{File: file, tmp: tmp}
	g.k.vectors = append(g.k.vectors, Vector{
		ID: id, Kind: KindOSCI,
		Purpose: "storeDelivery with a 100 MiB attachment, signed and encrypted for the ABH (made on demand: xagw conformance generate --large). A reader must stream it: memory must not grow with the attachment.",
		Inputs:  []File{file},
		Keys:    g.keysFor(ex.TransportKey, []string{entABHCipher}, []string{entSenderSig}),
		Expect:  Expect{Outcome: OutcomeAccept, MessageType: typ.String(), OSCI: ex},
	})
	return nil
}

// recorded returns the input of a vector generated earlier.
func (g *osciGen) recorded(id string) ([]byte, error) {
	for _, v := range g.k.vectors {
		if v.ID == id {
			return g.k.files[v.Inputs[0].Path], nil
		}
	}
	return nil, fmt.Errorf("no vector %s", id)
}

// contentNegatives: a responseToFetchDelivery (what the ABH receives) with
// content the ABH must refuse, re-composed by the intermediary's key from
// the recorded one so that everything but the defect is right.
func (g *osciGen) contentNegatives(ctx context.Context) error {
	base, err := g.recorded("osci.valid.store-signed-encrypted.responseToFetchDelivery")
	if err != nil {
		return err
	}
	abhCert := g.pki.cert(entABHCipher)
	build := func(d contentDefect) ([]byte, error) {
		var out []byte
		err := seededRand([]byte(KitSeed), "osci-defect/"+d.name, func() error {
			o, err := g.env.open(base, entABHCipher, "")
			if o == nil {
				return err
			}
			defer o.Close()
			if err != nil {
				return err
			}
			sender := g.pki.mustIdentity(entSenderSig)
			rc, certs, closer, err := buildDefectContent(d, g.pki, sender, abhCert, g.pki.cert(entReaderCipher), g.k.files[docAntrag], g.w.dir)
			if err != nil {
				return err
			}
			defer closer.Close()
			msg := o.Envelope.Message
			msg.NonIntermediary = replaceContentCerts(msg.NonIntermediary, certs)
			sig := g.pki.mustIdentity(entIntermediarySig)
			outgoing, err := osci.Compose(&msg, osci.ComposeOptions{
				Signing: &osci.Signing{Identity: sig}, SignerCertID: osci.CertID("intermed", "signature", sig.Certificate),
				TransportTo: abhCert, Content: rc, SpoolDir: g.w.dir})
			if err != nil {
				return err
			}
			defer outgoing.Close()
			out, err = outgoing.Bytes()
			return err
		})
		return out, err
	}
	// Control: the same construction without a defect is a valid message,
	// so each negative vector differs from a correct one only by its defect.
	control, err := build(contentDefect{name: "control", base: "store-signed-encrypted"})
	if err != nil {
		return fmt.Errorf("control re-composition: %w", err)
	}
	if _, _, err := g.env.expectValid(bytesSource(control), entABHCipher, nil); err != nil {
		return fmt.Errorf("control re-composition does not open cleanly: %w", err)
	}
	for _, d := range contentDefects {
		data, err := build(d)
		if err != nil {
			return fmt.Errorf("content defect %s: %w", d.name, err)
		}
		var vendor *VendorExpect
		if !d.inspected {
			vendor = &VendorExpect{Reply: ReplyNoAcceptance, Delivery: "defect:" + d.name}
		}
		if err := g.addNegative(d.name, d.class, d.purpose, data, osci.TypeResponseToFetchDelivery, entABHCipher, entABHCipher, vendor); err != nil {
			return err
		}
	}
	return nil
}

// replaceContentCerts keeps the originator's certificate entries of a
// message and takes the reader and author entries from the new content.
func replaceContentCerts(old, content []osci.CertEntry) []osci.CertEntry {
	var out []osci.CertEntry
	for _, e := range old {
		if e.Element == osci.CipherCertificateOriginator || e.Element == osci.SignatureCertificateOriginator {
			out = append(out, e)
		}
	}
	return append(out, content...)
}

// orderNegatives: a storeDelivery as the intermediary receives it, broken
// on order level.
func (g *osciGen) orderNegatives(ctx context.Context) error {
	base, err := g.recorded("osci.valid.store-inline.storeDelivery")
	if err != nil {
		return err
	}
	for _, d := range orderDefects {
		var data []byte
		err := seededRand([]byte(KitSeed), "osci-order-defect/"+d.name, func() error {
			o, err := g.env.open(base, entIntermediaryCipher, "")
			if o == nil {
				return err
			}
			defer o.Close()
			if err != nil {
				return err
			}
			signerName := entSenderSig
			if d.signer != "" {
				signerName = d.signer
			}
			signer := g.pki.mustIdentity(signerName)
			msg := o.Envelope.Message
			msg.NonIntermediary = replaceSigner(msg.NonIntermediary, signer.Certificate)
			var to *x509.Certificate
			if d.transportTo != "" {
				to = g.pki.cert(d.transportTo)
			}
			out, err := osci.Compose(&msg, osci.ComposeOptions{
				Signing: &osci.Signing{Identity: signer}, SignerCertID: osci.CertID("originator", "signature", signer.Certificate),
				TransportTo: to, Content: o.RawContent(), SpoolDir: g.w.dir})
			if err != nil {
				return err
			}
			defer out.Close()
			if data, err = out.Bytes(); err != nil {
				return err
			}
			if d.edit != nil {
				raw := g.pki.p.Entity(signerName).Key
				data, err = editEnvelope(data, raw, d.edit)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("order defect %s: %w", d.name, err)
		}
		transport := ""
		if d.transportTo != "" {
			transport = entIntermediaryCipher
		}
		if err := g.addNegative("order-"+d.name, d.class, d.purpose, data, osci.TypeStoreDelivery, transport, "", nil); err != nil {
			return err
		}
	}
	return nil
}

// replaceSigner puts cert in as the originator's signature certificate.
func replaceSigner(old []osci.CertEntry, cert *x509.Certificate) []osci.CertEntry {
	var out []osci.CertEntry
	for _, e := range old {
		if e.Element == osci.SignatureCertificateOriginator {
			e = osci.CertEntry{Element: e.Element, ID: osci.CertID("originator", "signature", cert), Cert: cert}
		}
		out = append(out, e)
	}
	return out
}

// addNegative records a negative OSCI vector after checking that the
// project's own Open rejects it with exactly the intended class — a
// generator that produced a vector failing for another reason would teach
// vendors the wrong thing.
func (g *osciGen) addNegative(name, class, purpose string, data []byte, typ osci.MessageType, transport, reader string, vendor *VendorExpect) error {
	id := "osci.invalid." + class[len("osci."):] + "." + name
	e := Expect{Outcome: OutcomeReject, Class: class, MessageType: typ.String(), OSCI: &OSCIExpect{TransportKey: transport}}
	if reader != "" {
		e.OSCI.Readers = []OSCIReader{{Key: reader}}
	}
	got, detail, err := g.env.verifyNegative(data, e)
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if got != OutcomeReject+"/"+class {
		return fmt.Errorf("%s: the project's Open gives %s, not reject/%s: %s", id, got, class, detail)
	}
	var readers []string
	if reader != "" {
		readers = []string{reader}
	}
	p := osciInvalidDir + "/" + strings.TrimPrefix(id, "osci.invalid.") + ".mime"
	g.k.vectors = append(g.k.vectors, Vector{
		ID: id, Kind: KindOSCI, Purpose: purpose,
		Inputs: []File{g.k.add(p, data)},
		Keys:   g.keysFor(transport, readers, nil),
		Expect: e,
		Vendor: vendor,
	})
	return nil
}
