package osci

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xagw/xagw/osci/xmldsig"
	"github.com/xagw/xagw/osci/xmlenc"
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

// flipAt returns a copy of b with the byte at i inverted.
func flipAt(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

// Tampering with ciphertext is caught by authentication: the transport
// ciphertext, a content CipherValue, an encrypted attachment.
func TestTamperedCiphertext(t *testing.T) {
	keys := readerKeys(t)
	t.Run("transport ciphertext", func(t *testing.T) {
		orig := readCapture(t, "storeDelivery-a.transport-encrypted.wire")
		i := bytes.Index(orig, []byte("Content-ID: <osci_enc>\r\n\r\n")) + 2000
		_, err := openErr(t, flipAt(orig, i), OpenOptions{Keys: keys})
		var de *DecryptError
		if !errors.As(err, &de) || !errors.Is(err, xmlenc.ErrAuthentication) || de.Code() != "9202" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("transport key for someone else", func(t *testing.T) {
		_, err := openErr(t, readCapture(t, "storeDelivery-a.transport-encrypted.wire"), OpenOptions{Keys: keys[1:]})
		var de *DecryptError
		if !errors.As(err, &de) || de.Code() != "9200" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("content cipher value", func(t *testing.T) {
		orig := readCapture(t, "storeDelivery-b.plain.wire")
		// The second CipherValue is the content (the first the wrapped key).
		first := bytes.Index(orig, []byte("<xenc:CipherValue>"))
		i := first + 1 + bytes.Index(orig[first+1:], []byte("<xenc:CipherValue>")) + len("<xenc:CipherValue>") + 40
		data := append([]byte(nil), orig...)
		if data[i] == 'A' {
			data[i] = 'B'
		} else {
			data[i] = 'A'
		}
		o, err := openErr(t, data, OpenOptions{Keys: keys})
		// The body digest of the ClientSignature fails, and the content
		// does not decrypt.
		if !errors.Is(err, xmldsig.ErrDigestMismatch) || !errors.Is(err, xmlenc.ErrAuthentication) || len(o.Containers) != 0 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("encrypted attachment", func(t *testing.T) {
		orig := readCapture(t, "storeDelivery-a.plain.wire")
		i := bytes.Index(orig, []byte("Content-ID: <attachment-a-enc.txt>"))
		i += bytes.Index(orig[i:], []byte("\r\n\r\n")) + 4 + 20
		o, err := openErr(t, flipAt(orig, i), OpenOptions{Keys: keys})
		if !errors.Is(err, xmlenc.ErrAuthentication) || !errors.Is(err, xmldsig.ErrDigestMismatch) {
			t.Fatalf("got %v", err)
		}
		if a := o.attachment("attachment-a-enc.txt"); a == nil || a.Decrypted {
			t.Fatal("tampered attachment released as plaintext")
		}
	})
}
