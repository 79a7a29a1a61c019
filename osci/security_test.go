package osci

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xagw/xagw/osci/keystore"
)

// composeSigned composes a plain storeDelivery from alice to bob whose
// content package is rc (built by BuildContent and possibly tampered with).
func composeSigned(t *testing.T, rc *RawContent, certs []CertEntry) []byte {
	t.Helper()
	alice, carol := sharedIdentity(t, "alice_signature_4096"), sharedIdentity(t, "carol_cipher_4096")
	sid := CertID("originator", "signature", alice.Certificate)
	m := &Message{Type: TypeStoreDelivery, MessageID: "m1",
		ControlBlock: ControlBlock{SequenceNumber: 0, Challenge: NewChallenge()},
		NonIntermediary: append(append([]CertEntry{{Element: CipherCertificateOriginator, ID: CertID("originator", "cipher", carol.Certificate), Cert: carol.Certificate}}, certs...),
			CertEntry{Element: SignatureCertificateOriginator, ID: sid, Cert: alice.Certificate})}
	out, err := Compose(m, ComposeOptions{Signing: &Signing{Identity: alice}, SignerCertID: sid, Content: rc})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	b, err := out.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Security review, finding 3: an element inserted into a signed
// Base64Content left the container signature valid (the base64 transform
// reads all descendant text) while Open handed out only the text before
// the element (etree's Text). Now the container is refused, and the bytes
// handed out for a signed content are the octets the signature digested.
func TestBase64ContentTruncationRefused(t *testing.T) {
	alice, bob := sharedIdentity(t, "alice_signature_4096"), sharedIdentity(t, "bob_cipher_4096")
	content := []byte(strings.Repeat("ABC", 40) + "<!-- signed tail: Ablehnung zurueckgenommen -->")
	d := &Delivery{MessageID: "m1", Addressee: bob.Certificate, Containers: []ContentContainer{
		{Sign: true, Contents: []Content{{Data: content}}}}}
	sid := CertID("originator", "signature", alice.Certificate)
	build := func() (*RawContent, []CertEntry) {
		rc, certs, closer, err := BuildContent(d, &Signing{Identity: alice}, sid, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closer.Close() })
		return rc, certs
	}
	open := func(wire []byte) (*Opened, error) {
		o, err := Open(bytes.NewReader(wire), OpenOptions{Keys: []*keystore.Identity{bob}, Signer: alice.Certificate})
		if o != nil {
			t.Cleanup(func() { o.Close() })
		}
		return o, err
	}

	// Untouched: the content is exactly what was signed.
	rc, certs := build()
	o, err := open(composeSigned(t, rc, certs))
	if err != nil {
		t.Fatalf("untouched: %v", err)
	}
	if c := o.Containers[0]; !c.Signatures[0].OK() || !bytes.Equal(c.Contents[0].Data, content) {
		t.Fatalf("untouched: OK=%v, %d bytes", c.Signatures[0].OK(), len(c.Contents[0].Data))
	}

	// Cut after the first 120 base64 characters (= 90 bytes) with "<x/>",
	// keeping all the text.
	rc, certs = build()
	i := bytes.Index(rc.XML, []byte("Base64Content"))
	j := i + bytes.IndexByte(rc.XML[i:], '>') + 1
	k, n := j, 0
	for n < 120 {
		if c := rc.XML[k]; c != '\n' && c != '\r' && c != ' ' {
			n++
		}
		k++
	}
	rc.XML = append(append(append([]byte{}, rc.XML[:k]...), []byte("<x/>")...), rc.XML[k:]...)
	o, err = open(composeSigned(t, rc, certs))
	if err == nil {
		t.Fatal("a Base64Content with an element inside was accepted")
	}
	for _, c := range o.Containers {
		for _, s := range c.Signatures {
			if s.OK() {
				t.Errorf("container signature reported OK")
			}
		}
		for _, ct := range c.Contents {
			if ct.Data != nil && !bytes.Equal(ct.Data, content) {
				t.Errorf("truncated content handed out: %d of %d bytes", len(ct.Data), len(content))
			}
		}
	}
}

// SignedContainer attributes content to a signer only when there is exactly
// one container, signed once, with the signature verified (security
// review, finding 2: the gateway took "the last signature that verified
// anywhere" as the signer of the first content it found).
func TestSignedContainer(t *testing.T) {
	alice, bob, dave := sharedIdentity(t, "alice_signature_4096"), sharedIdentity(t, "bob_cipher_4096"), sharedIdentity(t, "dave_cipher_4096")
	sid := CertID("originator", "signature", alice.Certificate)
	open := func(d *Delivery, mutate func([]byte) []byte) (*Opened, error) {
		rc, certs, closer, err := BuildContent(d, &Signing{Identity: alice}, sid, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closer.Close() })
		if mutate != nil {
			rc.XML = mutate(rc.XML)
		}
		o, err := Open(bytes.NewReader(composeSigned(t, rc, certs)), OpenOptions{Keys: []*keystore.Identity{bob}})
		if o == nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		return o, err
	}
	one := func(sign bool) ContentContainer {
		return ContentContainer{Sign: sign, Contents: []Content{{Data: []byte("<statusmeldung/>")}}}
	}
	o, err := open(&Delivery{MessageID: "m1", Addressee: bob.Certificate, Containers: []ContentContainer{one(true)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, signer, err := o.SignedContainer()
	if err != nil || !bytes.Equal(signer.Raw, alice.Certificate.Raw) || string(c.Contents[0].Data) != "<statusmeldung/>" {
		t.Fatalf("signed: %v %v", signer, err)
	}

	cases := map[string]*Delivery{
		"unsigned": {MessageID: "m1", Addressee: bob.Certificate, Containers: []ContentContainer{one(false)}},
		// An unsigned container next to a signed one: the signature of one
		// says nothing about the other.
		"two containers": {MessageID: "m1", Addressee: bob.Certificate, Containers: []ContentContainer{one(true), one(false)}},
		"other reader":   {MessageID: "m1", Addressee: bob.Certificate, Containers: []ContentContainer{one(true), {Sign: true, EncryptFor: []*x509.Certificate{dave.Certificate}, Contents: []Content{{Data: []byte("x")}}}}},
	}
	for name, d := range cases {
		o, _ := open(d, nil)
		if _, _, err := o.SignedContainer(); !errors.Is(err, ErrNotSignedContent) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A signed container whose content was changed: the signature fails.
	o, _ = open(&Delivery{MessageID: "m1", Addressee: bob.Certificate, Containers: []ContentContainer{one(true)}}, func(b []byte) []byte {
		return bytes.Replace(b, []byte(base64.StdEncoding.EncodeToString([]byte("<statusmeldung/>"))), []byte(base64.StdEncoding.EncodeToString([]byte("<statusmeldunG/>"))), 1)
	})
	if _, _, err := o.SignedContainer(); !errors.Is(err, ErrNotSignedContent) {
		t.Errorf("tampered: %v", err)
	}
}
