package xmldsig

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/xagw/xagw/osci/keystore"
)

func aliceIdentity(b testing.TB) *keystore.Identity {
	dir := filepath.Join(filepath.Dir(capturesDir(b)), "certs")
	pin, err := keystore.PINFromFile(filepath.Join(dir, "PIN.txt"))
	if err != nil {
		b.Fatal(err)
	}
	id, err := keystore.LoadPKCS12File(filepath.Join(dir, "alice_signature_4096.p12"), pin)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// Bare RSA-4096 signature costs: the floor for every signed OSCI message.
func BenchmarkRSA4096SignPKCS1v15(b *testing.B) {
	key := aliceIdentity(b).Key
	d := sha256.Sum256([]byte("signed info"))
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSA4096SignPSS(b *testing.B) {
	key := aliceIdentity(b).Key
	d := sha256.Sum256([]byte("signed info"))
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, d[:], &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSA4096Verify(b *testing.B) {
	key := aliceIdentity(b).Key
	d := sha256.Sum256([]byte("signed info"))
	sig, _ := key.Sign(rand.Reader, d[:], crypto.SHA256)
	pub := key.Public().(*rsa.PublicKey)
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// C14N + SHA-256 of every element the ClientSignature of a typical
// storeDelivery (storeDelivery-a, 23 KB envelope) references, plus its
// SignedInfo: the XML work of one signature, without RSA.
func BenchmarkC14NDigestEnvelope(b *testing.B) {
	c := freshCaptureB(b, "storeDelivery-a.transport-encrypted")
	s, err := ParseSignature(clientSignature(b, c.doc))
	if err != nil {
		b.Fatal(err)
	}
	idx, _ := NewIDIndex(c.doc.Root())
	var n int64
	for _, r := range s.References {
		if r.URI[0] == '#' {
			n += int64(len(Canonicalize(idx.Lookup(r.URI[1:]))))
		}
	}
	b.SetBytes(n)
	for b.Loop() {
		for _, r := range s.References {
			if r.URI[0] != '#' {
				continue
			}
			h := sha256.New()
			w := bufio.NewWriter(h)
			writeC14N(w, idx.Lookup(r.URI[1:]), c14nOptions{})
			w.Flush()
			h.Sum(nil)
		}
		h := sha256.New()
		h.Write(Canonicalize(s.SignedInfo))
		h.Sum(nil)
	}
}

// Full verification of a captured ClientSignature (10 references, RSA-4096).
func BenchmarkVerifyClientSignature(b *testing.B) {
	c := freshCaptureB(b, "storeDelivery-a.transport-encrypted")
	sig := clientSignature(b, c.doc)
	req, cids := signedParts(c.doc, c.parts)
	opts := VerifyOptions{Key: aliceKey(b), ResolveCID: bytesResolver(c.parts), Required: req, RequiredCIDs: cids}
	for b.Loop() {
		if _, err := Verify(sig, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// Signing a ClientSignature over the header blocks, Body and attachments of
// a captured storeDelivery with the 4096-bit key.
func BenchmarkSignClientSignature4096(b *testing.B) {
	id := aliceIdentity(b)
	c := freshCaptureB(b, "storeDelivery-a.transport-encrypted")
	idx, _ := NewIDIndex(c.doc.Root())
	s, _ := ParseSignature(clientSignature(b, c.doc))
	parent := clientSignature(b, c.doc).Parent()
	parent.RemoveChild(clientSignature(b, c.doc))
	for b.Loop() {
		var refs []Reference
		for _, r := range s.References {
			if r.URI[0] == '#' {
				refs = append(refs, Reference{Element: idx.Lookup(r.URI[1:])})
			} else {
				refs = append(refs, Reference{URI: r.URI, Data: bytes.NewReader(c.parts[r.URI[4:]])})
			}
		}
		sig, err := (&Signer{Key: id.Key}).Sign(parent, refs, nil)
		if err != nil {
			b.Fatal(err)
		}
		parent.RemoveChild(sig)
	}
}

func freshCaptureB(b testing.TB, name string) *capture {
	for _, c := range loadCaptures(b) {
		if c.name == name {
			return c
		}
	}
	b.Fatalf("no capture %s", name)
	return nil
}
