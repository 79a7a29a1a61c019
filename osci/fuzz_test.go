package osci

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/xagw/xagw/osci/wire"
)

// envelopeSeeds are envelopes of every message type written by the composer
// (the seed corpus never contains the third-party captures).
func envelopeSeeds(t testing.TB) [][]byte {
	var out [][]byte
	msgs := exampleMessages(t)
	for typ := TypeInitDialog; typ < TypeEncrypted; typ++ {
		m := *msgs[typ]
		if typ != TypeStoreDelivery && typ != TypeResponseToFetchDelivery {
			// Keep seeds small: the fuzzer minimises every interesting
			// input, and 2 KB certificates make that crawl. Two seeds keep
			// their certificates for the certificate parser.
			m.NonIntermediary, m.Intermediary = nil, nil
		}
		env, err := composeEnvelope(&m, bodyFor(typ))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env.render(nil))
	}
	out = append(out, []byte(`<soap:Envelope xmlns:soap="`+NSSOAP+`" xmlns:osci="`+NSOSCI+`"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>x</faultstring><detail><osci:Code>9400</osci:Code></detail></soap:Fault></soap:Body></soap:Envelope>`))
	return out
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzParseEnvelope when
// XAGW_WRITE_FUZZ_SEEDS=1; otherwise it only checks the seeds parse.
func TestWriteFuzzSeeds(t *testing.T) {
	seeds := envelopeSeeds(t)
	for _, s := range seeds {
		if _, err := ParseEnvelope(s); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getenv("XAGW_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set XAGW_WRITE_FUZZ_SEEDS=1 to rewrite the corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseEnvelope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParseEnvelope: the envelope parser never panics, and whatever it
// accepts the composer can write back into something it accepts again.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(data)
		if err != nil || env.Type == TypeEncrypted || env.Type == TypeFault {
			return
		}
		out, err := composeEnvelope(&env.Message, nil)
		if err != nil {
			return
		}
		if _, err := ParseEnvelope(out.render(nil)); err != nil {
			t.Fatalf("composer output of an accepted envelope does not parse: %v", err)
		}
	})
}

// openSeeds are complete messages written by the composer: a signed
// getMessageId, and a storeDelivery with signed, encrypted and plain
// containers and attachments, plain and transport-encrypted.
func openSeeds(t testing.TB) [][]byte {
	small := &Delivery{MessageID: "m", Subject: "s", Addressee: sharedCert(t, "bob_cipher_4096"), Containers: []ContentContainer{
		{Sign: true, Contents: []Content{{Data: []byte("a")}, {Attachment: AttachmentBytes("x", []byte("b"))}}},
		{EncryptFor: []*x509.Certificate{sharedCert(t, "bob_cipher_4096")}, Contents: []Content{{Data: []byte("c")}, {Attachment: AttachmentBytes("y", []byte("d"))}}},
	}}
	var out [][]byte
	for _, transport := range []bool{false, true} {
		data, err := composeDelivery(t, small, transport).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// FuzzOpen: Open never panics on arbitrary input, and whatever it accepts
// without error verified completely.
func FuzzOpen(f *testing.F) {
	for _, s := range openSeeds(f) {
		f.Add(s)
	}
	keys := readerKeys(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Open(bytes.NewReader(data), OpenOptions{Keys: keys, Limits: wire.Limits{MaxParts: 16}})
		if o != nil {
			defer o.Close()
		}
		if err == nil && o.Type != TypeFault && !o.Signature.OK() {
			t.Fatalf("accepted without a verified signature")
		}
	})
}

func TestWriteOpenFuzzSeeds(t *testing.T) {
	if os.Getenv("XAGW_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set XAGW_WRITE_FUZZ_SEEDS=1 to rewrite the corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range openSeeds(t) {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
