package osci

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

// Attachment is a MIME attachment a Content refers to. Its bytes are read
// through Open, possibly more than once (digest, encryption, writing), so a
// large attachment can come from a file and never sit in memory.
type Attachment struct {
	// Name is the attachment's Content-ID ("cid:" reference target), e.g.
	// "antrag.pdf". It must be unique within a message.
	Name string
	// Size is the exact number of bytes Open yields.
	Size int64
	// Open returns a fresh reader over the bytes.
	Open func() (io.ReadCloser, error)
}

// AttachmentBytes returns an Attachment over data.
func AttachmentBytes(name string, data []byte) *Attachment {
	return &Attachment{Name: name, Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// AttachmentFile returns an Attachment that reads the file at path each
// time it is needed.
func AttachmentFile(name, path string) (*Attachment, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("osci: attachment %s: %s is not a regular file", name, path)
	}
	return &Attachment{Name: name, Size: st.Size(), Open: func() (io.ReadCloser, error) { return os.Open(path) }}, nil
}

// Content is one osci:Content of a container: inline data (written as
// osci:Base64Content) or a reference to an attachment.
type Content struct {
	Data       []byte
	Attachment *Attachment
}

// ContentContainer is one osci:ContentContainer to send.
type ContentContainer struct {
	Contents []Content
	// Sign adds a container signature by the message's signer (the
	// originator as author), covering every content and attachment.
	Sign bool
	// EncryptFor lists the cipher certificates of the readers who can open
	// the container: the addressee's and/or other readers'. Empty means the
	// container travels unencrypted (protected by transport encryption only).
	// Attachments of an encrypted container are encrypted too, each with its
	// own key carried inside the encrypted container.
	EncryptFor []*x509.Certificate
}

// Delivery is the content of a storeDelivery, forwardDelivery or
// mediateDelivery (and of the passive recipient's answer to a
// processDelivery).
type Delivery struct {
	// MessageID is the id obtained beforehand with GetMessageID (optional
	// for mediateDelivery).
	MessageID string
	Subject   string
	// Addressee is the addressee's cipher certificate.
	Addressee *x509.Certificate
	// Containers are the content containers, in order.
	Containers []ContentContainer
}
