package osci

import (
	"bytes"
	"regexp"
	"testing"
)

// A signed getMessageId: the signature covers every header block and the
// body, verifies, and its layout equals the reference's apart from values.
func TestSignedEnvelope(t *testing.T) {
	alice := sharedIdentity(t, "alice_signature_4096")
	carol := sharedIdentity(t, "carol_cipher_4096")
	m := &Message{Type: TypeGetMessageID, ControlBlock: ControlBlock{SequenceNumber: 0, Challenge: "0z8uhixTcOx4lw=="},
		NonIntermediary: []CertEntry{
			{CipherCertificateOriginator, CertID("originator", "cipher", carol.Certificate), carol.Certificate},
			{SignatureCertificateOriginator, CertID("originator", "signature", alice.Certificate), alice.Certificate},
		}, Features: &FeatureDescription{Features: DefaultFeatures}}
	out, err := seal(sealInput{msg: m, role: signerRole{"ClientSignature", CertID("originator", "signature", alice.Certificate)}, signing: &Signing{Identity: alice}})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := schemasForTest(t).Validate(TypeGetMessageID, out.Envelope); err != nil {
		t.Fatal(err)
	}
	// Structure equal to the capture once digests and values are blanked
	// (the reference orders references by hash table; we compare sorted).
	norm := func(b []byte) []byte {
		b = regexp.MustCompile(`<ds:(DigestValue|SignatureValue)>[^<]*<`).ReplaceAll(b, []byte("<ds:$1>…<"))
		refs := regexp.MustCompile(`(?s)<ds:Reference .*?</ds:Reference>\n`).FindAll(b, -1)
		sortBytes(refs)
		b = regexp.MustCompile(`(?s)<ds:Reference .*</ds:Reference>\n`).ReplaceAll(b, bytes.Join(refs, nil))
		return b
	}
	capture := readCapture(t, "getMessageId.plain.soap.xml")
	want := norm(capture)
	// Same blocks, same canonical bytes: every digest equals the reference's.
	digests := func(b []byte) map[string]string {
		m := map[string]string{}
		for _, r := range regexp.MustCompile(`(?s)<ds:Reference URI="([^"]*)">.*?<ds:DigestValue>([^<]*)<`).FindAllSubmatch(b, -1) {
			m[string(r[1])] = string(r[2])
		}
		return m
	}
	gd, wd := digests(out.Envelope), digests(capture)
	if len(gd) != 5 || len(wd) != 5 {
		t.Fatalf("references: got %v, reference %v", gd, wd)
	}
	for uri, d := range wd {
		if gd[uri] != d {
			t.Errorf("digest of %s = %s, reference %s", uri, gd[uri], d)
		}
	}
	if got := norm(out.Envelope); !bytes.Equal(got, want) {
		t.Fatalf("signed envelope differs from the reference layout\n got: %s\nwant: %s", got, want)
	}
	data, err := out.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(bytes.NewReader(data), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if !o.Signature.OK() || len(o.Signature.References) != 5 || !bytes.Equal(o.Signature.Signer.Raw, alice.Certificate.Raw) {
		t.Fatalf("signature report %+v", o.Signature)
	}
}

func sortBytes(s [][]byte) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && bytes.Compare(s[j], s[j-1]) < 0; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
