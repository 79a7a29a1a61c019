package xmldsig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
)

// fuzzKey is a fixed P-256 key (scalar derived from a label), so committed
// seeds stay verifiable and the fuzzer can reach the success path.
func fuzzKey(t testing.TB) *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("xagw xmldsig fuzz key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fuzzSeeds(t testing.TB) [][]byte {
	k := fuzzKey(t)
	signed := serialize(t, signEnvelope(t, k, ECDSASHA256))
	return [][]byte{
		signed,
		[]byte(envelope),
		[]byte(`<a xmlns="urn:x" xmlns:p="urn:p" xml:lang="en"><b xmlns=""><p:c p:x="1" y="&#xD;&#x9;">t&amp;<?pi data?><!--c--></p:c></b></a>`),
	}
}

// FuzzVerify: arbitrary documents never make canonicalisation or
// verification panic, and Verify never reports success unless the
// signature value and every reference verified.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	key := fuzzKey(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := safexml.Parse(data, safexml.Limits{MaxBytes: 1 << 20, MaxDepth: 64})
		if err != nil {
			return
		}
		var sigs []*etree.Element
		var walk func(*etree.Element)
		n := 0
		walk = func(e *etree.Element) {
			n++
			if n > 200 {
				return
			}
			_ = Canonicalize(e)
			if isDS(e, "Signature") {
				sigs = append(sigs, e)
			}
			for _, c := range e.ChildElements() {
				walk(c)
			}
		}
		walk(doc.Root())
		for _, s := range sigs {
			res, err := Verify(s, VerifyOptions{Key: key.Public(), ResolveCID: bytesResolver(map[string][]byte{"attachment-a.txt": attachment}), MaxReferences: 16})
			if err != nil {
				continue
			}
			if !res.SignatureValueOK || len(res.References) == 0 {
				t.Fatalf("success without a verified signature value: %+v", res)
			}
			for _, r := range res.References {
				if !r.OK {
					t.Fatalf("success with failed reference %s", r.URI)
				}
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzVerify when
// XAGW_UPDATE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("XAGW_UPDATE_FUZZ_SEEDS") != "1" {
		t.Skip("set XAGW_UPDATE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The committed signed seed really verifies, so the fuzzer starts from the
// success path.
func TestFuzzSeedVerifies(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerify", "seed-00"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	quoted := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
	data, err := strconv.Unquote(quoted)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyEnvelope(t, parseString(t, data), fuzzKey(t).Public(), false); err != nil {
		t.Fatal(err)
	}
}
