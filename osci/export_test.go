package osci

import "context"

// Test-only access for osci_test: sending a message whose certificate
// entries the test chose (to play a client that lies about who it is).

// ExchangeForTest sends m in dialog d (nil = implicit), signed by c's
// signer under the element id c.SignerCertIDForTest().
func (c *Client) ExchangeForTest(ctx context.Context, d *Dialog, m *Message) (*Opened, error) {
	return c.exchange(ctx, d, &request{msg: m})
}

// SignerCertIDForTest is the element id c's ClientSignature points to.
func (c *Client) SignerCertIDForTest() string { return c.signerCertID() }

// ExplicitDialogForTest continues the dialog an initDialog response opened.
func ExplicitDialogForTest(conv, challenge string) *Dialog {
	return &Dialog{explicit: true, convID: conv, seq: NoSequence, srvChal: challenge}
}
