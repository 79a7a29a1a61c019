package osci

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xagw/xagw/osci/xmldsig"
)

// replaceOnce replaces the first occurrence of old in b (which must exist).
func replaceOnce(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q not found", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func openErr(t *testing.T, data []byte, opts OpenOptions) (*Opened, error) {
	t.Helper()
	o, err := Open(bytes.NewReader(data), opts)
	if o != nil {
		t.Cleanup(func() { o.Close() })
	}
	return o, err
}

// Tampered copies of a real capture are rejected with the right error.
func TestTamperedPlainCapture(t *testing.T) {
	orig := readCapture(t, "storeDelivery-a.plain.wire")
	if _, err := openErr(t, orig, OpenOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("signed header block", func(t *testing.T) {
		data := replaceOnce(t, orig, "<osci:Subject>Interop storeDelivery (a)", "<osci:Subject>Interop storeDelivery (b)")
		_, err := openErr(t, data, OpenOptions{})
		var se *SignatureError
		if !errors.As(err, &se) || !errors.Is(err, xmldsig.ErrDigestMismatch) || se.Code() != "9601" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("attachment byte", func(t *testing.T) {
		data := replaceOnce(t, orig, "Interop (a): unencrypted attachment bytes.", "Interop (a): unencrypted attachment bytes!")
		o, err := openErr(t, data, OpenOptions{})
		if !errors.Is(err, xmldsig.ErrDigestMismatch) {
			t.Fatalf("got %v", err)
		}
		// Both the ClientSignature (raw bytes) and the container signature
		// (plaintext) cover it.
		if o.Signature.OK() || len(o.Containers) == 0 || o.Containers[0].Signatures[0].OK() {
			t.Fatal("tampered attachment accepted by a signature")
		}
	})
	t.Run("signature value", func(t *testing.T) {
		data := replaceOnce(t, orig, "<ds:SignatureValue>pu8c", "<ds:SignatureValue>pu8d")
		_, err := openErr(t, data, OpenOptions{})
		if !errors.Is(err, xmldsig.ErrSignatureInvalid) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("duplicated Id", func(t *testing.T) {
		// A second element carrying Id="storedelivery" (signature wrapping).
		data := replaceOnce(t, orig, `<osci:Subject>Interop`, `<osci:Subject Id="storedelivery">Interop`)
		_, err := openErr(t, data, OpenOptions{})
		if !errors.Is(err, xmldsig.ErrDuplicateID) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unsigned header block added", func(t *testing.T) {
		data := replaceOnce(t, orig, `</soap:Header>`, `<osci:Extra xmlns:osci="`+NSOSCI+`" Id="extra"></osci:Extra></soap:Header>`)
		_, err := openErr(t, data, OpenOptions{})
		var se *SignatureError
		if !errors.As(err, &se) || !errors.Is(err, xmldsig.ErrNotCovered) || se.Code() != "9602" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("signature removed", func(t *testing.T) {
		data := clientSignatureRE.ReplaceAll(orig, nil)
		_, err := openErr(t, data, OpenOptions{})
		var se *SignatureError
		if !errors.As(err, &se) || se.Code() != "9600" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong pinned signer", func(t *testing.T) {
		_, err := openErr(t, orig, OpenOptions{Signer: sharedCert(t, "osci_manager_signature_4096")})
		var se *SignatureError
		if !errors.As(err, &se) {
			t.Fatalf("got %v", err)
		}
	})
}
