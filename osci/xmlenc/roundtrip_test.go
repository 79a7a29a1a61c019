package xmlenc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"sync"
	"testing"
	"time"
)

var (
	rtOnce sync.Once
	rtKey  *rsa.PrivateKey
	rtCert *x509.Certificate
)

// roundTripIdentity is a 2048-bit key with a self-signed certificate,
// generated once per test binary.
func roundTripIdentity(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	rtOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "xmlenc test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyEncipherment}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			panic(err)
		}
		rtCert, _ = x509.ParseCertificate(der)
		rtKey = k
	})
	return rtKey, rtCert
}

const envelopeStart = `<soap:Envelope xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:osci="http://www.osci.de/2002/04/osci" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body><osci:ContentPackage></osci:ContentPackage></soap:Body></soap:Envelope>`

// Every supported combination: build, serialise, parse, unwrap, decrypt.
func TestEncryptDecryptRoundTrips(t *testing.T) {
	key, cert := roundTripIdentity(t)
	plaintext := []byte(`<osci:ContentContainer Id="c"><osci:Content>äöü €</osci:Content></osci:ContentContainer>`)
	var transports []KeyTransport
	for _, dm := range []string{DigestSHA1, DigestSHA256, DigestSHA512} {
		for _, mgf := range []string{MGF1SHA1, MGF1SHA256, MGF1SHA512} {
			transports = append(transports, KeyTransport{Algorithm: RSAOAEP, DigestMethod: dm, MGF: mgf})
		}
		transports = append(transports, KeyTransport{Algorithm: RSAOAEPMGF1P, DigestMethod: dm})
	}
	transports = append(transports, KeyTransport{Algorithm: RSAOAEP, DigestMethod: DigestSHA256, MGF: MGF1SHA256, OAEPParams: []byte("label")})
	n := 0
	for _, alg := range []string{AES128GCM, AES192GCM, AES256GCM} {
		for _, ivLen := range []int{12, 16} {
			for _, kt := range transports {
				for _, inline := range []bool{true, false} {
					name := fmt.Sprintf("%s/iv%d/%s/%s/%s/inline=%v", alg[len(alg)-10:], ivLen, kt.Algorithm[len(kt.Algorithm)-8:], kt.DigestMethod[len(kt.DigestMethod)-6:], kt.MGF, inline)
					m := Method{Algorithm: alg, IVLength: ivLen}
					ck, err := NewKey(alg)
					if err != nil {
						t.Fatal(err)
					}
					ek, err := NewEncryptedKey(kt, cert, ck)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !inline {
						ek.Certificate, ek.RetrievalURI, ek.RetrievalType = nil, "#addressee_cipher_x", RetrievalTypeX509Data
					}
					ct, err := Seal(m, ck, plaintext)
					if err != nil {
						t.Fatal(err)
					}
					ed := &EncryptedData{Id: "encdata_0", MimeType: "text/xml", Method: m, Keys: []*EncryptedKey{ek}, CipherValue: ct}
					el, err := ed.Build()
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					doc := parse(t, []byte(envelopeStart))
					doc.FindElement("//osci:ContentPackage").AddChild(el)
					doc.WriteSettings.CanonicalEndTags = true
					wire, _ := doc.WriteToBytes()

					back, err := ParseEncryptedData(parse(t, wire).FindElement("//xenc:EncryptedData"))
					if err != nil {
						t.Fatalf("%s: parse: %v", name, err)
					}
					if back.Method != m || back.Keys[0].Method.Algorithm != kt.Algorithm || (inline && !back.Keys[0].Certificate.Equal(cert)) || (!inline && back.Keys[0].RetrievalURI != "#addressee_cipher_x") {
						t.Fatalf("%s: parsed %+v", name, back)
					}
					k2, err := back.Keys[0].Unwrap(key, back.Method.Algorithm, DecryptOptions{})
					if err != nil {
						t.Fatalf("%s: unwrap: %v", name, err)
					}
					pt, err := back.Decrypt(k2, DecryptOptions{})
					if err != nil || !bytes.Equal(pt, plaintext) {
						t.Fatalf("%s: decrypt: %v", name, err)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d combinations", n)
}

// Attachments: a referenced ciphertext streamed through NewSealReader and
// Open, key carried in MgmtData.
func TestAttachmentRoundTrip(t *testing.T) {
	for _, m := range []Method{DefaultMethod, {AES128GCM, 16}} {
		ck, _ := NewKey(m.Algorithm)
		const n = 300000
		r, err := NewSealReader(m, ck, &patternReader{n: n})
		if err != nil {
			t.Fatal(err)
		}
		sealed, _ := io.ReadAll(r)
		if int64(len(sealed)) != SealedSize(m, n) {
			t.Fatalf("sealed %d bytes, SealedSize %d", len(sealed), SealedSize(m, n))
		}
		ed := &EncryptedData{Id: "Attachmenta.bin", MimeType: "text/xml", Method: m, MgmtKey: ck, CipherReference: "cid:a.bin", CipherTransforms: []string{TransformBase64}}
		el, err := ed.Build()
		if err != nil {
			t.Fatal(err)
		}
		doc := parse(t, []byte(envelopeStart))
		doc.FindElement("//osci:ContentPackage").AddChild(el)
		wire, _ := doc.WriteToBytes()
		back, err := ParseEncryptedData(parse(t, wire).FindElement("//xenc:EncryptedData"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := back.Decrypt(back.MgmtKey, DecryptOptions{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decrypt on a referenced ciphertext: %v", err)
		}
		pr, err := Open(back.Method, back.MgmtKey, bytes.NewReader(sealed), int64(len(sealed)))
		if err != nil {
			t.Fatal(err)
		}
		if err := samePattern(pr, n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRSA15OnlyWhenAllowed(t *testing.T) {
	key, _ := roundTripIdentity(t)
	ck, _ := NewKey(AES256GCM)
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, &key.PublicKey, ck)
	if err != nil {
		t.Fatal(err)
	}
	kt := KeyTransport{Algorithm: RSA15}
	if _, err := UnwrapKey(kt, key, wrapped, 32, DecryptOptions{}); !errors.Is(err, ErrLegacy) {
		t.Fatalf("RSA 1.5 accepted by default: %v", err)
	}
	got, err := UnwrapKey(kt, key, wrapped, 32, DecryptOptions{AllowRSA15: true})
	if err != nil || !bytes.Equal(got, ck) {
		t.Fatalf("RSA 1.5 with option: %v", err)
	}
	// A damaged block gives a random key (no padding oracle), not an error.
	wrapped[10] ^= 1
	got, err = UnwrapKey(kt, key, wrapped, 32, DecryptOptions{AllowRSA15: true})
	if err != nil || bytes.Equal(got, ck) || len(got) != 32 {
		t.Fatalf("damaged RSA 1.5 block: %v", err)
	}
	if _, err := WrapKey(kt, &key.PublicKey, ck); !errors.Is(err, ErrLegacy) {
		t.Errorf("wrapping with RSA 1.5: %v", err)
	}
}

func TestCBCOnlyWhenAllowed(t *testing.T) {
	ck, _ := NewKey(AES128CBC)
	pt := []byte("legacy content, 33 bytes long....")
	block, _ := aes.NewCipher(ck)
	iv := make([]byte, 16)
	rand.Read(iv)
	padded := append(bytes.Clone(pt), make([]byte, 16-len(pt)%16)...)
	padded[len(padded)-1] = byte(16 - len(pt)%16)
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
	data := append(iv, ct...)
	m := Method{Algorithm: AES128CBC, IVLength: 16}
	if _, err := Decrypt(m, ck, data, DecryptOptions{}); !errors.Is(err, ErrLegacy) {
		t.Fatalf("CBC accepted by default: %v", err)
	}
	got, err := Decrypt(m, ck, data, DecryptOptions{AllowLegacyCBC: true})
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("CBC with option: %q %v", got, err)
	}
	if _, err := Seal(m, ck, pt); !errors.Is(err, ErrLegacy) {
		t.Errorf("CBC encryption: %v", err)
	}
	if _, err := Open(m, ck, bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrLegacy) {
		t.Errorf("CBC streaming: %v", err)
	}
}

func TestMethodAndKeyChecks(t *testing.T) {
	ck := make([]byte, 16)
	if _, err := Seal(Method{AES256GCM, 12}, ck, nil); !errors.Is(err, ErrKeySize) {
		t.Errorf("short key: %v", err)
	}
	if _, err := Seal(Method{AES256GCM, 8}, make([]byte, 32), nil); !errors.Is(err, ErrIVLength) {
		t.Errorf("8-byte IV: %v", err)
	}
	if _, err := Seal(Method{"http://example/aes-ocb", 12}, ck, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown algorithm: %v", err)
	}
	key, _ := roundTripIdentity(t)
	wrapped, _ := WrapKey(DefaultKeyTransport, &key.PublicKey, make([]byte, 16))
	if _, err := UnwrapKey(DefaultKeyTransport, key, wrapped, 32, DecryptOptions{}); !errors.Is(err, ErrKeySize) {
		t.Errorf("16-byte key for AES-256: %v", err)
	}
	if _, err := UnwrapKey(KeyTransport{Algorithm: RSAOAEP, DigestMethod: DigestSHA256, MGF: "urn:mgf:unknown"}, key, wrapped, 16, DecryptOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown MGF: %v", err)
	}
	// Defaults of XML Encryption: no DigestMethod means SHA-1, no MGF means
	// MGF1-SHA1.
	w, _ := rsa.EncryptOAEP(sha1New(), rand.Reader, &key.PublicKey, make([]byte, 32), nil)
	if _, err := UnwrapKey(KeyTransport{Algorithm: RSAOAEP}, key, w, 32, DecryptOptions{}); err != nil {
		t.Errorf("OAEP defaults: %v", err)
	}
}

func sha1New() hash.Hash { return sha1.New() }
