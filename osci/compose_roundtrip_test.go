package osci

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"regexp"
	"testing"
)

// deliveryA mirrors capture storeDelivery-a: a signed plain container with
// inline content and a plain attachment, and a container encrypted for
// reader dave with inline content and an encrypted attachment.
func deliveryA(t testing.TB) *Delivery {
	return &Delivery{
		MessageID: "interop-msgid-storeDelivery-a",
		Subject:   "Interop storeDelivery (a)",
		Addressee: sharedCert(t, "bob_cipher_4096"),
		Containers: []ContentContainer{
			{Sign: true, Contents: []Content{{Data: []byte("Interop (a): signed inline content.")},
				{Attachment: AttachmentBytes("attachment-a.txt", []byte("Interop (a): unencrypted attachment bytes."))}}},
			{EncryptFor: []*x509.Certificate{sharedCert(t, "dave_cipher_4096")}, Contents: []Content{
				{Data: []byte("Interop (a): content encrypted for reader dave. Umlaute: äöüß €")},
				{Attachment: AttachmentBytes("attachment-a-enc.txt", []byte("Interop (a): encrypted attachment bytes for dave."))}}},
		},
	}
}

// composeDelivery builds a storeDelivery as the client would.
func composeDelivery(t testing.TB, d *Delivery, transport bool) *Outgoing {
	alice := sharedIdentity(t, "alice_signature_4096")
	carol := sharedIdentity(t, "carol_cipher_4096")
	signing := &Signing{Identity: alice}
	sigID := CertID("originator", "signature", alice.Certificate)
	content, certs, closer, err := BuildContent(d, signing, sigID, "")
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{Type: TypeStoreDelivery, ControlBlock: implicitRequest(TypeStoreDelivery), Languages: "de",
		Timestamps: []TimestampQuality{{"creation", "plain"}, {"reception", "plain"}}, MessageID: d.MessageID, Subject: d.Subject,
		NonIntermediary: append(append([]CertEntry{{CipherCertificateOriginator, CertID("originator", "cipher", carol.Certificate), carol.Certificate}}, certs...),
			CertEntry{SignatureCertificateOriginator, sigID, alice.Certificate}),
		Features: &FeatureDescription{Features: DefaultFeatures}}
	opts := ComposeOptions{Signing: signing, SignerCertID: sigID, Content: content}
	if transport {
		opts.TransportTo = sharedCert(t, "osci_manager_cipher_4096")
	}
	out, err := Compose(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	out.closers = append(out.closers, closer)
	t.Cleanup(func() { out.Close() })
	return out
}

// What the composer writes opens completely with the readers' keys, and
// its layout equals the reference capture of the same scenario apart from
// random values (challenge, keys, IVs, ciphertext, signature values, MIME
// boundary) and the order of ds:Reference elements.
func TestComposeStoreDeliveryRoundTrip(t *testing.T) {
	for _, transport := range []bool{false, true} {
		out := composeDelivery(t, deliveryA(t), transport)
		data, err := out.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := out.Len(); n != int64(len(data)) {
			t.Fatalf("Len %d, wrote %d", n, len(data))
		}
		// Writing again gives a message of the same length (a retry).
		again, err := out.Bytes()
		if err != nil || len(again) != len(data) {
			t.Fatalf("second write: %d bytes, %v", len(again), err)
		}
		s := schemasForTest(t)
		if err := s.Validate(TypeStoreDelivery, out.Envelope); err != nil {
			t.Fatal(err)
		}
		o, err := Open(bytes.NewReader(data), OpenOptions{Keys: readerKeys(t)})
		if err != nil {
			t.Fatalf("transport=%v: %v", transport, err)
		}
		if (o.Transport != nil) != transport || !o.Signature.OK() || len(o.Containers) != 2 {
			t.Fatalf("opened %+v", o)
		}
		want := map[string]string{
			"contentcontainer0": "Interop (a): signed inline content.",
			"contentcontainer1": "Interop (a): content encrypted for reader dave. Umlaute: äöüß €",
		}
		for _, c := range o.Containers {
			if string(c.Contents[0].Data) != want[c.ID] {
				t.Errorf("%s: %q", c.ID, c.Contents[0].Data)
			}
			att, err := c.Contents[1].Attachment.Bytes()
			if err != nil || (c.ID == "contentcontainer1") != c.Contents[1].Attachment.Encrypted {
				t.Errorf("%s attachment: %v encrypted=%v", c.ID, err, c.Contents[1].Attachment.Encrypted)
			}
			if !bytes.HasPrefix(att, []byte("Interop (a): ")) {
				t.Errorf("%s attachment %q", c.ID, att)
			}
			if c.ID == "contentcontainer0" && (len(c.Signatures) != 1 || !c.Signatures[0].OK()) {
				t.Errorf("container signature %+v", c.Signatures)
			}
		}
		if transport {
			outer := regexp.MustCompile(`(?s)<\?xml.*</soap:Envelope>`).Find(data)
			if err := s.Validate(TypeEncrypted, outer); err != nil {
				t.Fatal(err)
			}
			norm := regexp.MustCompile(`>[A-Za-z0-9+/=\n]{40,}<`)
			capOuter := readCapture(t, "storeDelivery-a.transport-encrypted.outer.soap.xml")
			if g, w := norm.ReplaceAll(outer, []byte(">…<")), norm.ReplaceAll(capOuter, []byte(">…<")); !bytes.Equal(g, w) {
				t.Errorf("outer envelope differs from the reference layout\n got: %s\nwant: %s", g, w)
			}
		}
		o.Close()
	}
}

// The body of our storeDelivery has the reference's structure: same
// elements, attributes and namespace declarations in the same order.
func TestComposeStoreDeliveryBodyLayout(t *testing.T) {
	out := composeDelivery(t, deliveryA(t), false)
	shape := func(b []byte) string {
		body := regexp.MustCompile(`(?s)<soap:Body.*</soap:Body>`).Find(b)
		body = regexp.MustCompile(`>[^<]*<`).ReplaceAll(body, []byte("><"))                                     // text values
		body = regexp.MustCompile(`(URI|Id)="#?[a-z]+_cipher_[0-9a-f]+"`).ReplaceAll(body, []byte(`$1="cert"`)) // hashed ids
		return string(body)
	}
	got, want := shape(out.Envelope), shape(readCapture(t, "storeDelivery-a.plain.soap.xml"))
	// The reference numbers contents in the order the application created
	// them and sorts references by hash table; normalise reference order.
	refs := regexp.MustCompile(`<ds:Reference .*?</ds:Reference>`)
	sortRefs := func(s string) string {
		all := refs.FindAllString(s, -1)
		b := make([][]byte, len(all))
		for i := range all {
			b[i] = []byte(all[i])
		}
		sortBytes(b)
		i := 0
		return refs.ReplaceAllStringFunc(s, func(string) string { r := string(b[i]); i++; return r })
	}
	if sortRefs(got) != sortRefs(want) {
		t.Errorf("body structure differs\n got: %s\nwant: %s", sortRefs(got), sortRefs(want))
	}
	_ = sha256.New
}
