package xmlenc_test

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/xmlenc"
)

// Encrypt a ContentContainer for a reader (content encryption), as the
// reference lays it out, and decrypt it again with the reader's key.
func Example_contentEncryption() {
	certs := sharedpath.MustFind("osci/certs")
	pin, _ := keystore.PINFromFile(filepath.Join(certs, "PIN.txt"))
	bob, err := keystore.LoadPKCS12File(filepath.Join(certs, "bob_cipher_4096.p12"), pin)
	if err != nil {
		panic(err)
	}

	// Sender: fresh content key, wrapped for bob (RSA-OAEP SHA-256/MGF1-SHA-256),
	// container sealed with AES-256-GCM and a 12-byte IV.
	container := []byte(`<osci:ContentContainer Id="contentcontainer0">…</osci:ContentContainer>`)
	key, _ := xmlenc.NewKey(xmlenc.DefaultMethod.Algorithm)
	ek, err := xmlenc.NewEncryptedKey(xmlenc.DefaultKeyTransport, bob.Certificate, key)
	if err != nil {
		panic(err)
	}
	ek.Certificate = nil // point to bob's certificate element instead of inlining it
	ek.RetrievalURI, ek.RetrievalType = "#addressee_cipher_1", xmlenc.RetrievalTypeX509Data
	ct, _ := xmlenc.Seal(xmlenc.DefaultMethod, key, container)
	ed := &xmlenc.EncryptedData{Id: "encdata_0", MimeType: "text/xml", Method: xmlenc.DefaultMethod,
		Keys: []*xmlenc.EncryptedKey{ek}, CipherValue: ct, Declare: xmlenc.EnvelopeNamespaces}
	el, err := ed.Build()
	if err != nil {
		panic(err)
	}

	// Reader: parse, unwrap with the private key (any crypto.Decrypter, e.g.
	// an HSM), decrypt.
	parsed, err := xmlenc.ParseEncryptedData(el)
	if err != nil {
		panic(err)
	}
	dec, _ := bob.Decrypter()
	k, err := parsed.Keys[0].Unwrap(dec, parsed.Method.Algorithm, xmlenc.DecryptOptions{})
	if err != nil {
		panic(err)
	}
	plain, err := parsed.Decrypt(k, xmlenc.DecryptOptions{})
	fmt.Println(string(plain), err)
	// Output: <osci:ContentContainer Id="contentcontainer0">…</osci:ContentContainer> <nil>
}

// Stream an attachment through AES-GCM: the encrypted length is known in
// advance (for the MIME Content-Length), and decryption authenticates the
// whole ciphertext before returning plaintext.
func ExampleNewSealReader() {
	key, _ := xmlenc.NewKey(xmlenc.AES256GCM)
	attachment := strings.NewReader("a large attachment, streamed")
	n := int64(attachment.Len())

	sealed, err := xmlenc.NewSealReader(xmlenc.DefaultMethod, key, attachment)
	if err != nil {
		panic(err)
	}
	fmt.Println("part length:", xmlenc.SealedSize(xmlenc.DefaultMethod, n))
	var part bytes.Buffer // the MIME part on the wire
	io.Copy(&part, sealed)

	plain, err := xmlenc.OpenStream(xmlenc.DefaultMethod, key, &part, "")
	if err != nil {
		panic(err)
	}
	defer plain.Close()
	out, _ := io.ReadAll(plain)
	fmt.Println(string(out))
	// Output:
	// part length: 56
	// a large attachment, streamed
}
