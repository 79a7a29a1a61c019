package osci

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strconv"
	"sync"
	"testing"

	"github.com/xagw/xagw/osci/keystore"
)

var (
	fastKeyOnce sync.Once
	fastKey     *rsa.PrivateKey
)

// deterministicSigning signs with PKCS#1 v1.5, which is deterministic, so
// two signatures over the same SignedInfo are the same bytes.
func deterministicSigning(t testing.TB) *Signing {
	fastKeyOnce.Do(func() { fastKey, _ = rsa.GenerateKey(rand.Reader, 2048) })
	return &Signing{Identity: &keystore.Identity{Key: fastKey, Certificate: sharedCert(t, "alice_signature_4096")}}
}

// checkFastSign signs env once from canonical bytes (no parse) and once by
// parsing the rendered envelope, and requires identical signature blocks.
func checkFastSign(t *testing.T, name string, env *envelope, canon *knownBody, atts []wireAttachment) {
	t.Helper()
	if canon == nil {
		t.Fatalf("%s: no canonical body, the fast path would not be taken", name)
	}
	role := signerRole{block: "ClientSignature", certRef: "originator_signature_x"}
	s := deterministicSigning(t)
	fast, err := signEnvelope(env, role, s, atts, canon)
	if err != nil {
		t.Fatalf("%s: fast: %v", name, err)
	}
	parsed, err := signEnvelope(env, role, s, atts, nil)
	if err != nil {
		t.Fatalf("%s: parsed: %v", name, err)
	}
	if !bytes.Equal(fast, parsed) {
		t.Fatalf("%s: signature blocks differ:\nfast   %s\nparsed %s", name, fast, parsed)
	}
}

// Every header block the composer writes is its own canonical form, for
// every message type with every field filled in: signing from those bytes
// gives the signature that parsing and canonicalising the envelope gives.
func TestFastSignMatchesParsedAllTypes(t *testing.T) {
	n := 0
	for typ, m := range exampleMessages(t) {
		if typ.info().block == blockNone {
			continue
		}
		n++
		if bodyFor(typ) != nil {
			continue // content packages: TestFastSignMatchesParsedContent
		}
		env, err := composeEnvelope(m, nil)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		checkFastSign(t, typ.String(), env, canonicalBody(env, nil, nil), nil)
	}
	if n < 16 {
		t.Fatalf("only %d message types checked", n)
	}
}

// Content packages built here (signed and unsigned plain containers,
// encrypted containers for one and several readers, inline data with
// characters that need escaping, plain and encrypted attachments):
// canonicalising the element trees equals canonicalising the parsed bytes.
func TestFastSignMatchesParsedContent(t *testing.T) {
	bob, dave := sharedCert(t, "bob_cipher_4096"), sharedCert(t, "dave_cipher_4096")
	s := deterministicSigning(t)
	deliveries := map[string]*Delivery{
		"capture a": deliveryA(t),
		"gateway shape": {MessageID: "m1", Subject: "Antrag & <Test> äöü", Addressee: bob, Containers: []ContentContainer{
			{Sign: true, EncryptFor: []*x509.Certificate{bob}, Contents: []Content{{Data: []byte("<xml>&amp; \r\n Grüße</xml>")}}}}},
		"two readers, attachments": {MessageID: "m2", Addressee: bob, Containers: []ContentContainer{
			{Sign: true, EncryptFor: []*x509.Certificate{bob, dave}, Contents: []Content{{Data: []byte("x")},
				{Attachment: AttachmentBytes("a b&c.pdf", []byte("PDF"))}}},
			{Sign: true, Contents: []Content{{Data: bytes.Repeat([]byte{0, 1, 2, 255}, 300)}}}}},
		"unsigned plain container": {MessageID: "m3", Addressee: bob, Containers: []ContentContainer{
			{Contents: []Content{{Data: []byte("x")}}}}},
	}
	for name, d := range deliveries {
		b, err := buildContent(d, s, "originator_signature_x", "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := &Message{Type: TypeStoreDelivery, ControlBlock: implicitRequest(TypeStoreDelivery), Languages: "de", MessageID: d.MessageID,
			Subject: d.Subject, NonIntermediary: append(b.certs, CertEntry{SignatureCertificateOriginator, "originator_signature_x", sharedCert(t, "alice_signature_4096")}),
			Timestamps: []TimestampQuality{{"creation", "plain"}}, Features: &FeatureDescription{Features: DefaultFeatures}}
		env, err := composeEnvelope(m, b.xml)
		if err != nil {
			t.Fatal(err)
		}
		canon := canonicalBody(env, b.xml, b.trees)
		if name == "unsigned plain container" {
			// It exists only as bytes: the signer must parse.
			if canon != nil {
				t.Fatalf("%s: canonical body without trees for every container", name)
			}
			b.Close()
			continue
		}
		checkFastSign(t, name, env, canon, b.attachments)
		b.Close()
	}
}

// A container with inline contents only, signed without parsing it, is
// byte for byte what signing the parsed container gives (PKCS#1 v1.5 is
// deterministic): one or several contents, empty content, data of every
// byte value.
func TestSignInlineContainerMatchesParsing(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for name, contents := range map[string][][]byte{
		"one":     {[]byte("<Antrag>äöü &amp;</Antrag>")},
		"several": {[]byte("a"), bytes.Repeat(all, 100), []byte("c")},
		"empty":   {{}, nil},
	} {
		b := &contentBuilder{signing: deterministicSigning(t), signerRef: "originator_signature_x", out: &builtContent{}, names: map[string]bool{}}
		var w xw
		w.start("osci:ContentContainer", envelopeNS, "Id", "contentcontainer0")
		var ids []string
		for i, c := range contents {
			id := "content" + strconv.Itoa(i)
			ids = append(ids, id)
			w.start("osci:Content", "")
			w.b64("osci:Base64Content", "", c, "Id", id)
			w.end("osci:Content")
		}
		w.end("osci:ContentContainer")
		parsed, _, err := b.signContainer(bytes.Clone(w.Bytes()), nil, contents)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := b.signInlineContainer(bytes.Clone(w.Bytes()), "contentcontainer0", contents, ids)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(parsed, direct) {
			t.Fatalf("%s: differs:\nparsed %s\ndirect %s", name, parsed, direct)
		}
	}
}
