package oscitransport_test

import (
	"strings"
	"testing"

	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/oscitransport"
)

// Security review finding 7: an intermediary whose signature certificate is
// not pinned (the DVDV entry names none, no home_signature_cert) is
// accepted on weaker grounds (the osci package's operator rule); the
// operator is told once per intermediary, not per message.
func TestUnpinnedIntermediaryIsReportedOnce(t *testing.T) {
	logs := &gatewaytest.LogBuffer{}
	tr, err := oscitransport.New(oscitransport.Config{Signer: identity(t, "alice_signature_4096"), Cipher: identity(t, "carol_cipher_4096"),
		Policy: policy(t), Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	cipher := identity(t, "osci_manager_cipher_4096").Certificate.Raw
	sig := identity(t, "osci_manager_signature_4096").Certificate.Raw
	for i := 0; i < 3; i++ {
		if _, err := tr.Client("http://127.0.0.1:1/unpinned", cipher, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Client("http://127.0.0.1:1/pinned", cipher, sig); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "no signature certificate pinned"); n != 1 || !strings.Contains(logs.String(), "/unpinned") {
		t.Fatalf("%d warnings:\n%s", n, logs.String())
	}
}
