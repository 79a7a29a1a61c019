package osci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/wire"
)

// Chunked (partial) transmission, OSCI 1.2's "PartialMessageTransmission"
// feature, for messages larger than an intermediary accepts in one
// request: the complete storeDelivery request is cut into chunks that
// travel as attachments of partialStoreDelivery orders; the intermediary
// reassembles and processes it after the last chunk. Fetching works the
// other way round: the complete responseToFetchDelivery is fetched in
// chunks and opened once reassembled.

const (
	chunkContainerID  = "ChunkContentContainer"
	chunkContentID    = "ChunkContent"
	chunkAttachmentID = "ChunkBlobStoreDelivery"
)

// chunkContent is the ContentPackage a chunk travels in.
func chunkContent(data *wire.Spool, off, n int64) *builtContent {
	var w xw
	w.WriteString("<osci:ContentPackage>")
	w.start("osci:ContentContainer", envelopeNS, "Id", chunkContainerID)
	w.empty("osci:Content", "", "Id", chunkContentID, "href", "cid:"+chunkAttachmentID)
	w.end("osci:ContentContainer")
	w.WriteString("</osci:ContentPackage>")
	return &builtContent{xml: w.Bytes(), attachments: []wireAttachment{{contentID: chunkAttachmentID, size: n,
		open: func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(data, off, n)), nil }}}}
}

func kb(n int64) int64 { return (n + 1023) >> 10 }

// PartialStoreDelivery sends d like StoreDelivery, but cut into chunks of
// chunkKB kilobytes (the intermediary announces its limits in its
// FeatureDescription). It runs in an explicit dialog the Client opens.
func (c *Client) PartialStoreDelivery(ctx context.Context, d *Delivery, chunkKB int64) (*Receipt, error) {
	var res *Receipt
	err := c.withDialog(ctx, func(s *Session) error {
		var err error
		res, err = s.PartialStoreDelivery(ctx, d, chunkKB)
		return err
	})
	return res, err
}

// PartialStoreDelivery sends d in chunks inside the dialog.
func (s *Session) PartialStoreDelivery(ctx context.Context, d *Delivery, chunkKB int64) (*Receipt, error) {
	c := s.c
	if chunkKB <= 0 {
		return nil, errors.New("osci: chunk size must be positive")
	}
	// The complete storeDelivery as it would have been posted (its own
	// implicit control block, transport-encrypted for the intermediary).
	req, err := c.deliveryRequest(TypeStoreDelivery, "", d)
	if err != nil {
		return nil, err
	}
	defer req.content.Close()
	m := req.msg
	m.Languages, m.Features = c.cfg.Languages, &FeatureDescription{Features: DefaultFeatures}
	m.ControlBlock = implicitRequest(TypeStoreDelivery)
	in := sealInput{msg: m, role: signerRole{block: "ClientSignature", certRef: c.signerCertID()}, signing: c.signing(),
		content: req.content.xml, attachments: req.content.attachments, spoolDir: c.cfg.SpoolDir}
	if !c.cfg.PlainTransport {
		in.transportTo = c.cfg.IntermediaryCipher
	}
	full, err := seal(in)
	if err != nil {
		return nil, err
	}
	defer full.Close()
	spool := wire.NewSpool(c.cfg.SpoolDir, 0)
	defer spool.Close()
	if _, err := full.WriteTo(spool); err != nil {
		return nil, err
	}
	size := chunkKB << 10
	total := int((spool.Size() + size - 1) / size)
	var last *Opened
	for i := 1; i <= total; i++ {
		off := int64(i-1) * size
		n := min(size, spool.Size()-off)
		pm := &Message{
			Type:            TypePartialStoreDelivery,
			Timestamps:      []TimestampQuality{{"creation", "plain"}},
			MessageID:       d.MessageID + "_Partial",
			Subject:         d.Subject,
			Chunk:           &ChunkInformation{ChunkNumber: i, ChunkSize: kb(n), TotalChunkNumbers: total, TotalMessageSize: kb(spool.Size())},
			NonIntermediary: m.NonIntermediary,
		}
		o, err := c.exchange(ctx, s.d, &request{msg: pm, content: chunkContent(spool, off, n)})
		if last != nil {
			last.Close()
		}
		last = o
		if err != nil {
			if o != nil {
				o.Close()
			}
			return nil, fmt.Errorf("osci: chunk %d of %d: %w", i, total, err)
		}
	}
	defer last.Close()
	if err := last.InsideFeedback.Err(); err != nil {
		// Carried in the last chunk's verified response.
		if fe, ok := err.(*FeedbackError); ok {
			fe.Verified = true
		}
		return nil, err
	}
	r := receipt(last)
	r.MessageID = d.MessageID
	r.Warnings = append(r.Warnings, last.InsideFeedback.Warnings()...)
	return r, nil
}

// PartialFetchDelivery fetches the delivery with messageID (or the oldest
// unfetched one for "") in chunks of chunkKB kilobytes and opens it like
// FetchDelivery. It runs in an explicit dialog the Client opens.
func (c *Client) PartialFetchDelivery(ctx context.Context, messageID string, chunkKB int64) (*Fetched, error) {
	var res *Fetched
	err := c.withDialog(ctx, func(s *Session) error {
		var err error
		res, err = s.PartialFetchDelivery(ctx, messageID, chunkKB)
		return err
	})
	return res, err
}

// PartialFetchDelivery fetches in chunks inside the dialog.
func (s *Session) PartialFetchDelivery(ctx context.Context, messageID string, chunkKB int64) (*Fetched, error) {
	c := s.c
	if chunkKB <= 0 {
		return nil, errors.New("osci: chunk size must be positive")
	}
	spool := wire.NewSpool(c.cfg.SpoolDir, 0)
	defer spool.Close()
	var sel *Selection
	if messageID != "" {
		sel = &Selection{MessageIDs: []string{messageID}}
	}
	var received []int
	total := 1
	for i := 1; i <= total; i++ {
		rc := slices.Clone(received)
		if len(rc) == 0 {
			rc = []int{-1} // the reference's "nothing yet"
		}
		pm := &Message{Type: TypePartialFetchDelivery, Selection: sel,
			Chunk: &ChunkInformation{ChunkNumber: i, ChunkSize: chunkKB, ReceivedChunks: rc}, NonIntermediary: c.originatorCerts(false)}
		o, err := c.exchange(ctx, s.d, &request{msg: pm})
		if err != nil {
			if o != nil {
				o.Close()
			}
			return nil, fmt.Errorf("osci: chunk %d: %w", i, err)
		}
		if o.Chunk == nil || o.Chunk.ChunkNumber != i || o.Chunk.TotalChunkNumbers < i {
			o.Close()
			return nil, fmt.Errorf("osci: chunk %d: response carries chunk information %+v", i, o.Chunk)
		}
		total = o.Chunk.TotalChunkNumbers
		if sel == nil && o.MessageID != "" {
			sel = &Selection{MessageIDs: []string{o.MessageID}} // stay with the same delivery
		}
		blob := o.attachment(chunkAttachmentID)
		if blob == nil {
			o.Close()
			return nil, fmt.Errorf("osci: chunk %d carries no %s attachment", i, chunkAttachmentID)
		}
		r, err := blob.OpenRaw()
		if err == nil {
			_, err = io.Copy(spool, r)
		}
		o.Close()
		if err != nil {
			return nil, err
		}
		received = append(received, i)
	}
	// The reassembled responseToFetchDelivery: signed by the intermediary
	// and encrypted for us. It belongs to no request of ours, so only its
	// signature and content are checked, not its control block.
	full, err := Open(spool.Reader(), OpenOptions{Keys: []*keystore.Identity{c.cfg.Cipher}, Policy: c.cfg.Policy,
		Signer: c.cfg.IntermediarySignature, SpoolDir: c.cfg.SpoolDir})
	if err != nil {
		if full != nil {
			full.Close()
		}
		return nil, fmt.Errorf("osci: reassembled delivery: %w", err)
	}
	if full.Type != TypeResponseToFetchDelivery {
		full.Close()
		return nil, fmt.Errorf("osci: reassembled message is a %s", full.Type)
	}
	if err := c.checkSupplier(full); err != nil {
		full.Close()
		return nil, fmt.Errorf("osci: reassembled delivery: %w", err)
	}
	if err := full.Feedback.Err(); err != nil {
		full.Close()
		if fe, ok := err.(*FeedbackError); ok {
			fe.Verified = true
		}
		return nil, err
	}
	f := &Fetched{Opened: full, More: full.Feedback.Has(CodeFurtherDeliveries)}
	if len(full.ProcessCards) > 0 {
		pc := full.ProcessCards[0]
		f.ProcessCard = &pc
	}
	return f, nil
}
