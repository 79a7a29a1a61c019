package xmldsig

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/beevik/etree"
)

// A reference given as canonical bytes signs exactly as the same element
// given as a tree: same digest, same SignedInfo, same (deterministic
// PKCS#1 v1.5) signature value, and the result verifies against the tree.
func TestSignWithCanonicalBytesEqualsTree(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const src = `<r xmlns:a="urn:a"><a:block Id="b1" z="1" a:y="2">text &amp; more<a:c>x</a:c></a:block><sig></sig></r>`
	sign := func(useCanonical bool) (*etree.Document, []byte) {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(src); err != nil {
			t.Fatal(err)
		}
		block := doc.Root().SelectElement("a:block")
		ref := Reference{Element: block}
		if useCanonical {
			ref = Reference{URI: "#b1", Canonical: Canonicalize(block)}
		}
		sig, err := (&Signer{Key: key}).Sign(doc.Root().SelectElement("sig"), []Reference{ref}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		sig.WriteTo(&b, &etree.WriteSettings{})
		return doc, b.Bytes()
	}
	_, viaTree := sign(false)
	doc, viaBytes := sign(true)
	if !bytes.Equal(viaTree, viaBytes) {
		t.Fatalf("signatures differ:\n%s\n%s", viaTree, viaBytes)
	}
	sig := doc.Root().SelectElement("sig").SelectElement("ds:Signature")
	if _, err := Verify(sig, VerifyOptions{Key: &key.PublicKey, Required: []*etree.Element{doc.Root().SelectElement("a:block")}}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// Malformed uses are refused.
	for _, r := range []Reference{{URI: "b1", Canonical: []byte("x")}, {URI: "#b1", Canonical: []byte("x"), Data: bytes.NewReader(nil)},
		{URI: "#b1", Canonical: []byte("x"), Transforms: []string{TransformBase64}}} {
		if _, err := (&Signer{Key: key}).Sign(etree.NewElement("x"), []Reference{r}, nil); err == nil {
			t.Errorf("reference %+v accepted", r)
		}
	}
}

// A base64 reference given with its Octets signs exactly as the element
// decoded: same digest and signature value; the result verifies; Octets
// without an element and the base64 transform are refused.
func TestSignWithOctetsEqualsDecoding(t *testing.T) {
	key, _ := testKeys(t)
	data := []byte("Antragsdaten <>&\x00\xff äöü")
	src := `<r><c Id="c0">` + EncodeBase64Lines(data) + `</c><sig></sig></r>`
	sign := func(octets []byte) (*etree.Document, []byte) {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(src); err != nil {
			t.Fatal(err)
		}
		c := doc.Root().SelectElement("c")
		sig, err := (&Signer{Key: key}).Sign(doc.Root().SelectElement("sig"), []Reference{{Element: c, Transforms: []string{TransformBase64}, Octets: octets}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		sig.WriteTo(&b, &etree.WriteSettings{})
		return doc, b.Bytes()
	}
	_, decoded := sign(nil)
	doc, given := sign(data)
	if !bytes.Equal(decoded, given) {
		t.Fatalf("signatures differ:\n%s\n%s", decoded, given)
	}
	sig := doc.Root().SelectElement("sig").SelectElement("ds:Signature")
	if _, err := Verify(sig, VerifyOptions{Key: &key.PublicKey, Required: []*etree.Element{doc.Root().SelectElement("c")}}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if _, wrong := sign([]byte("other")); bytes.Equal(wrong, decoded) {
		t.Fatal("Octets not used")
	}
	c := doc.Root().SelectElement("c")
	for _, r := range []Reference{{Element: c, Octets: data}, {URI: "cid:x", Data: bytes.NewReader(nil), Transforms: []string{TransformBase64}, Octets: data}} {
		if _, err := (&Signer{Key: key}).Sign(doc.Root(), []Reference{r}, nil); err == nil {
			t.Errorf("reference %+v accepted", r)
		}
	}
}

// KeyFrom gets the parsed signature and supplies the key; its error ends
// the verification with exactly that error, and a wrong key fails as a
// wrong Key does.
func TestVerifyKeyFrom(t *testing.T) {
	key, _ := testKeys(t)
	doc := signEnvelope(t, key, "")
	sig := clientSignature(t, doc)
	req, _ := signedParts(doc, nil)
	opts := VerifyOptions{ResolveCID: bytesResolver(map[string][]byte{"attachment-a.txt": attachment}), Required: req, RequiredCIDs: []string{"attachment-a.txt"}}
	var seen *Signature
	opts.KeyFrom = func(s *Signature) (crypto.PublicKey, error) { seen = s; return &key.PublicKey, nil }
	res, err := Verify(sig, opts)
	if err != nil || !res.SignatureValueOK || seen == nil || seen.Element != sig || len(seen.KeyInfo.RetrievalMethods) != 1 {
		t.Fatalf("KeyFrom: %v, %+v", err, seen)
	}
	stop := errors.New("no such signer")
	opts.KeyFrom = func(*Signature) (crypto.PublicKey, error) { return nil, stop }
	if res, err := Verify(sig, opts); err != stop || res.SignatureValueOK || len(res.References) != 0 {
		t.Fatalf("KeyFrom error: %v, %+v", err, res)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	opts.KeyFrom = func(*Signature) (crypto.PublicKey, error) { return &other.PublicKey, nil }
	if _, err := Verify(sig, opts); !errors.Is(err, ErrSignatureInvalid) {
		t.Fatalf("wrong key: %v", err)
	}
}
