package xmlenc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
)

var fuzzSymKey = bytes.Repeat([]byte{0x42}, 32)

func fuzzOpenSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, n := range []int{0, 1, 16, 100, gcmChunk + 3} {
		for _, ivLen := range []int{12, 16} {
			seeds = append(seeds, append([]byte{byte(ivLen)}, stdlibSeal(t, fuzzSymKey, bytes.Repeat([]byte{1}, ivLen), bytes.Repeat([]byte("x"), n))...))
		}
	}
	return seeds
}

// FuzzOpen: the streaming decryptor agrees with cipher.AEAD on arbitrary
// input: same plaintext when the tag is right, an error otherwise. The
// first byte selects the IV length (12 if even, 16 if odd).
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzOpenSeeds(f) {
		f.Add(s)
	}
	block, _ := aes.NewCipher(fuzzSymKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ivLen := 12
		if data[0]%2 == 1 {
			ivLen = 16
		}
		data = data[1:]
		m := Method{Algorithm: AES256GCM, IVLength: ivLen}
		ours, oerr := func() ([]byte, error) {
			r, err := Open(m, fuzzSymKey, bytes.NewReader(data), int64(len(data)))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		}()
		aead, _ := cipher.NewGCMWithNonceSize(block, ivLen)
		var theirs []byte
		var serr error = errors.New("short")
		if len(data) >= ivLen+16 {
			theirs, serr = aead.Open(nil, data[:ivLen], data[ivLen:], nil)
		}
		if (oerr == nil) != (serr == nil) || !bytes.Equal(ours, theirs) {
			t.Fatalf("streaming %v / stdlib %v disagree", oerr, serr)
		}
		if oerr != nil && !errors.Is(oerr, ErrAuthentication) && !errors.Is(oerr, ErrTruncated) {
			t.Fatalf("unexpected error kind: %v", oerr)
		}
		if d, err := Decrypt(m, fuzzSymKey, data, DecryptOptions{}); (err == nil) != (serr == nil) || !bytes.Equal(d, theirs) {
			t.Fatalf("in-memory Decrypt disagrees: %v", err)
		}
	})
}

func fuzzXMLSeeds(t testing.TB) [][]byte {
	ck := fuzzSymKey
	ct, _ := Seal(DefaultMethod, ck, []byte("<osci:ContentContainer/>"))
	ed := &EncryptedData{Id: "Attachmentx", MimeType: "text/xml", Method: DefaultMethod, MgmtKey: ck, CipherValue: ct}
	el, err := ed.Build()
	if err != nil {
		t.Fatal(err)
	}
	key, cert := roundTripIdentity(t)
	_ = key
	ek, _ := NewEncryptedKey(DefaultKeyTransport, cert, ck)
	ed2 := &EncryptedData{Id: "encdata_0", Method: Method{AES128GCM, 16}, Keys: []*EncryptedKey{ek}, CipherReference: "cid:osci_enc", CipherTransforms: []string{TransformBase64}}
	el2, err := ed2.Build()
	if err != nil {
		t.Fatal(err)
	}
	var seeds [][]byte
	for _, e := range []*etree.Element{el, el2} {
		doc := parse(t, []byte(envelopeStart))
		doc.FindElement("//osci:ContentPackage").AddChild(e)
		b, _ := doc.WriteToBytes()
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzDecryptXML: EncryptedData parsing and decryption of arbitrary XML
// never panics, and anything decrypted with the MgmtData key really is the
// authenticated plaintext (cross-checked with cipher.AEAD).
func FuzzDecryptXML(f *testing.F) {
	for _, s := range fuzzXMLSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := safexml.Parse(data, safexml.Limits{MaxBytes: 1 << 20, MaxDepth: 64})
		if err != nil {
			return
		}
		for _, el := range doc.FindElements("//EncryptedData") {
			ed, err := ParseEncryptedData(el)
			if err != nil {
				continue
			}
			if ed.CipherValue != nil && ed.MgmtKey != nil {
				pt, err := ed.Decrypt(ed.MgmtKey, DecryptOptions{})
				if err == nil {
					block, _ := aes.NewCipher(ed.MgmtKey)
					aead, _ := cipher.NewGCMWithNonceSize(block, ed.Method.IVLength)
					want, serr := aead.Open(nil, ed.CipherValue[:ed.Method.IVLength], ed.CipherValue[ed.Method.IVLength:], nil)
					if serr != nil || !bytes.Equal(pt, want) {
						t.Fatal("decrypted data that does not authenticate")
					}
				}
			}
			if _, err := ed.Build(); err != nil {
				continue
			}
		}
	})
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("XAGW_UPDATE_FUZZ_SEEDS") != "1" {
		t.Skip("set XAGW_UPDATE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	for target, seeds := range map[string][][]byte{"FuzzOpen": fuzzOpenSeeds(t), "FuzzDecryptXML": fuzzXMLSeeds(t)} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
