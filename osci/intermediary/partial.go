package intermediary

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xagw/xagw/osci"
)

// Chunked messages (OSCI 1.2 "PartialMessageTransmission"). A partial
// store upload is a complete storeDelivery request (the HTTP body the
// client would have posted, usually transport-encrypted to us) cut into
// chunks; each chunk travels as the attachment of a partialStoreDelivery
// with MessageId "<id>_Partial". When the last chunk arrives the
// intermediary processes the reassembled storeDelivery; its feedback comes
// back as InsideFeedback together with its process card. A partial fetch
// is the complete responseToFetchDelivery cut the same way.

const (
	chunkContainer  = "ChunkContentContainer"
	chunkContent    = "ChunkContent"
	chunkAttachment = "ChunkBlobStoreDelivery"
)

// chunkPackage is the ContentPackage a chunk travels in.
func chunkPackage() []byte {
	return []byte(`<osci:ContentPackage><osci:ContentContainer xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:osci="http://www.osci.de/2002/04/osci" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Id="` +
		chunkContainer + `"><osci:Content Id="` + chunkContent + `" href="cid:` + chunkAttachment + `"></osci:Content></osci:ContentContainer></osci:ContentPackage>`)
}

func (im *Intermediary) partialStoreDelivery(c *call) error {
	o := c.req
	upload := strings.TrimSuffix(o.MessageID, "_Partial")
	if upload == "" || upload == o.MessageID {
		c.resp.Feedback = osci.NewFeedback(osci.CodeIllegalMessageID)
		return nil
	}
	chunks, err := im.st.chunks(c.ctx, upload)
	if err != nil {
		return err
	}
	// A stale upload is dropped after the chunk time-out.
	if len(chunks) > 0 && im.cfg.Now().Sub(chunks[0].created) > im.cfg.ChunkTimeout {
		if err := im.st.dropChunks(c.ctx, upload); err != nil {
			return err
		}
		chunks = nil
		c.resp.InsideFeedback = osci.NewFeedback(osci.CodeChunkTimeout)
	}
	info := &osci.ChunkInformation{}
	c.resp.Chunk = info
	received := func() []int {
		var n []int
		for _, ch := range chunks {
			n = append(n, ch.number)
		}
		return n
	}
	if o.InfoOnly {
		info.ReceivedChunks = received()
		if len(chunks) > 0 {
			info.TotalChunkNumbers = chunks[0].total
		}
		c.resp.Feedback = c.success()
		return nil
	}
	ci := o.Chunk
	fail := func(code osci.Code) error {
		info.ReceivedChunks = received()
		if ci != nil {
			info.ChunkNumber, info.TotalChunkNumbers = ci.ChunkNumber, ci.TotalChunkNumbers
		}
		c.resp.Feedback = osci.NewFeedback(code)
		return nil
	}
	if ci == nil || ci.ChunkNumber < 1 || ci.TotalChunkNumbers < 1 || ci.ChunkNumber > ci.TotalChunkNumbers {
		return fail(osci.CodeWrongChunkNumber)
	}
	if len(chunks) > 0 && chunks[0].total != ci.TotalChunkNumbers {
		return fail(osci.CodeWrongChunkInfo)
	}
	if ci.TotalMessageSize > im.cfg.MaxMessage>>10 {
		return fail(osci.CodeMessageTooLarge)
	}
	var blob *osci.OpenedAttachment
	for _, a := range o.Attachments {
		if a.ContentID == chunkAttachment {
			blob = a
		}
	}
	if blob == nil {
		return fail(osci.CodeWrongChunkInfo)
	}
	kb := (blob.WireSize + 1023) >> 10
	if kb > im.cfg.MaxChunkKB {
		return fail(osci.CodeChunkTooLarge)
	}
	if kb < im.cfg.MinChunkKB && ci.ChunkNumber != ci.TotalChunkNumbers {
		return fail(osci.CodeChunkTooSmall)
	}
	r, err := blob.OpenRaw()
	if err != nil {
		return err
	}
	if _, err := im.st.putChunk(c.ctx, upload, ci.ChunkNumber, ci.TotalChunkNumbers, r, im.cfg.Now()); err != nil {
		if errors.Is(err, errDuplicateChunk) {
			return fail(osci.CodeDuplicateChunk)
		}
		return err
	}
	if chunks, err = im.st.chunks(c.ctx, upload); err != nil {
		return err
	}
	info.ChunkNumber, info.TotalChunkNumbers, info.ReceivedChunks = ci.ChunkNumber, ci.TotalChunkNumbers, received()
	if len(chunks) < ci.TotalChunkNumbers {
		c.resp.Feedback = c.success()
		return nil
	}
	// Complete: process the reassembled storeDelivery as if it had been
	// posted, then forget the chunks.
	inside, card, err := im.assembleStore(c, upload, chunks)
	if err != nil {
		return err
	}
	if err := im.st.dropChunks(c.ctx, upload); err != nil {
		return err
	}
	c.resp.InsideFeedback = inside
	if card != nil {
		c.resp.ProcessCards = []osci.ProcessCardBundle{*card}
	}
	if inside.Err() != nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeInsideError)
	} else {
		c.resp.Feedback = c.success()
	}
	return nil
}

// assembleStore opens the concatenated chunks as a storeDelivery request
// and stores it. It returns the inner order's feedback and card.
func (im *Intermediary) assembleStore(c *call, upload string, chunks []chunkRow) (osci.Feedback, *osci.ProcessCardBundle, error) {
	sort.Slice(chunks, func(i, j int) bool { return chunks[i].number < chunks[j].number })
	var readers []io.Reader
	for _, ch := range chunks {
		f, err := im.st.openBlob(ch.file)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		readers = append(readers, f)
	}
	o, err := osci.Open(io.MultiReader(readers...), im.openOptions())
	if o == nil {
		return osci.NewFeedback(faultCode(err)), nil, nil
	}
	defer o.Close()
	if err != nil {
		return osci.NewFeedback(osci.Code(orderCode(err))), nil, nil
	}
	if o.Type != osci.TypeStoreDelivery || o.MessageID != upload {
		return osci.NewFeedback(osci.CodeNoValidOrderData), nil, nil
	}
	if certHash(o.Message.Cert(osci.SignatureCertificateOriginator)) != certHash(c.client) {
		return osci.NewFeedback(osci.CodeNotAllSigned), nil, nil
	}
	inner := &call{ctx: c.ctx, req: o, client: c.client, resp: &osci.Message{Type: osci.TypeResponseToStoreDelivery}}
	if err := im.storeDelivery(inner, o, "store"); err != nil {
		return nil, nil, err
	}
	var card *osci.ProcessCardBundle
	if len(inner.resp.ProcessCards) > 0 {
		card = &inner.resp.ProcessCards[0]
	}
	return inner.resp.Feedback, card, nil
}

func (im *Intermediary) partialFetchDelivery(c *call) error {
	o := c.req
	c.resp.Selection = o.Selection
	ci := o.Chunk
	info := &osci.ChunkInformation{}
	c.resp.Chunk = info
	if ci == nil || ci.ChunkNumber < 1 || ci.ChunkSize < im.cfg.MinChunkKB || ci.ChunkSize > im.cfg.MaxChunkKB {
		c.resp.Feedback = osci.NewFeedback(osci.CodeWrongChunkInfo)
		return nil
	}
	var msgID string
	if o.Selection != nil && len(o.Selection.MessageIDs) > 0 {
		msgID = o.Selection.MessageIDs[0]
	}
	mb := c.mailbox()
	if mb == "" {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoDelivery)
		return nil
	}
	d, _, err := im.st.selectForFetch(c.ctx, mb, msgID, time.Time{})
	if err != nil {
		return err
	}
	if d == nil {
		c.resp.Feedback = osci.NewFeedback(osci.CodeNoDelivery)
		return nil
	}
	c.resp.MessageID = d.msgID
	// The whole responseToFetchDelivery is composed once and kept as the
	// upload "fetch:<conversation>:<id>" while its chunks are collected.
	key := "fetch:" + strconv.FormatInt(c.dlg.convID, 10) + ":" + d.msgID
	stored, err := im.st.chunks(c.ctx, key)
	if err != nil {
		return err
	}
	if len(stored) == 0 {
		full, err := im.composeFetchResponse(c, d)
		if err != nil {
			return err
		}
		// Streamed into the chunk store: a large delivery never sits in
		// memory.
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err := full.WriteTo(pw)
			pw.CloseWithError(err)
		}()
		_, err = im.st.putChunk(c.ctx, key, 0, 1, pr, im.cfg.Now())
		if err == nil {
			pr.Close()
		} else {
			pr.CloseWithError(err)
		}
		<-done
		full.Close()
		if err != nil {
			return err
		}
		if stored, err = im.st.chunks(c.ctx, key); err != nil {
			return err
		}
	}
	whole := stored[0]
	size := ci.ChunkSize << 10
	total := int((whole.size + size - 1) / size)
	if ci.ChunkNumber > total {
		c.resp.Feedback = osci.NewFeedback(osci.CodeWrongChunkNumber)
		return nil
	}
	off := int64(ci.ChunkNumber-1) * size
	n := min(size, whole.size-off)
	file := whole.file
	c.content = &osci.RawContent{XML: chunkPackage(), Attachments: []osci.RawAttachment{{ContentID: chunkAttachment, Size: n,
		Open: func() (io.ReadCloser, error) {
			f, err := im.st.openBlob(file)
			if err != nil {
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{io.NewSectionReader(f, off, n), f}, nil
		}}}}
	info.ChunkNumber, info.TotalChunkNumbers, info.TotalMessageSize = ci.ChunkNumber, total, (whole.size+1023)>>10
	certs, err := storedCerts(d)
	if err != nil {
		return err
	}
	c.resp.NonIntermediary = certs
	c.resp.Feedback = c.success()
	// Every chunk received (the client lists those it has): the delivery is
	// fetched; the composed response is no longer needed.
	have := map[int]bool{ci.ChunkNumber: true}
	for _, r := range ci.ReceivedChunks {
		have[r] = true
	}
	if len(have) >= total {
		now := im.cfg.Now()
		if err := im.st.markDelivered(c.ctx, d.msgID, now, now); err != nil {
			return err
		}
		c.closers = append(c.closers, closerFunc(func() error { return im.st.dropChunks(c.ctx, key) }))
	}
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// composeFetchResponse builds the complete responseToFetchDelivery for d,
// signed and (when the request was encrypted) encrypted for the fetcher.
func (im *Intermediary) composeFetchResponse(c *call, d *delivery) (*osci.Outgoing, error) {
	inner := &call{ctx: c.ctx, req: c.req, dlg: c.dlg, client: c.client,
		resp: &osci.Message{Type: osci.TypeResponseToFetchDelivery, Intermediary: im.inter, Features: im.feat,
			Selection: &osci.Selection{MessageIDs: []string{d.msgID}}}}
	inner.resp.ControlBlock = osci.ResponseControlBlock(osci.TypeResponseToFetchDelivery, c.req.ControlBlock, strconv.FormatInt(c.dlg.convID, 10))
	dd := *d
	dd.forwarded = im.cfg.Now()
	certs, err := storedCerts(&dd)
	if err != nil {
		return nil, err
	}
	inner.resp.Feedback = c.success()
	inner.resp.NonIntermediary = certs
	inner.resp.ProcessCards = []osci.ProcessCardBundle{card(&dd, false)}
	out, err := osci.Compose(inner.resp, osci.ComposeOptions{Signing: &osci.Signing{Identity: im.cfg.Signer}, SignerCertID: im.sigID,
		TransportTo: c.replyTo, Content: im.storedContent(d), SpoolDir: im.cfg.SpoolDir})
	if err != nil {
		return nil, fmt.Errorf("composing the chunked response: %w", err)
	}
	return out, nil
}
