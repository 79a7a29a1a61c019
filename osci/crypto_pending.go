package osci

// PENDING: the transport and content encryption hooks of the composer and
// of Open. They are filled in on top of osci/xmlenc as soon as it lands;
// until then every call fails with errPending, so nothing is ever sent or
// accepted unencrypted by accident.

import (
	"crypto/x509"
	"errors"
	"io"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/wire"
)

var errPending = errors.New("xmlenc pending")

func (o *Opened) decryptTransport(env *Envelope, mr *wire.Reader, opts OpenOptions) (io.Reader, *TransportInfo, error) {
	return nil, nil, errPending
}
func decryptContainer(ed *etree.Element, m *Message, keys []*keystore.Identity) ([]byte, *x509.Certificate, []string, error) {
	return nil, nil, nil, errNoKey
}
func decryptAttachment(ed *etree.Element, o *Opened, opts OpenOptions) (string, error) {
	return "", errPending
}
func transportEncrypt(inner *wire.Message, to *x509.Certificate, spoolDir string) (func() []wire.PartSource, []io.Closer, error) {
	return nil, nil, errPending
}
func encryptContainer(plain []byte, id string, recipients []recipientRef) ([]byte, error) {
	return nil, errPending
}
func encryptAttachment(a *Attachment, spoolDir string) ([]byte, wireAttachment, io.Closer, error) {
	return nil, wireAttachment{}, nil, errPending
}
