package osci_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
)

// pack loads an identity of the interop pack in ../shared/osci (PIN 123456).
func pack(name string) *keystore.Identity {
	dir := filepath.Join(sharedpath.MustFind("osci"), "certs")
	pin, _ := os.ReadFile(filepath.Join(dir, "PIN.txt"))
	id, err := keystore.LoadPKCS12File(filepath.Join(dir, name+".p12"), bytes.TrimSpace(pin))
	if err != nil {
		panic(err)
	}
	return id
}

// Open a received message: transport-decrypt it with the intermediary's
// key, verify the signature and every reference, decrypt the content for
// reader dave.
func ExampleOpen() {
	f, err := os.Open(filepath.Join(sharedpath.MustFind("osci"), "captures", "storeDelivery-a.transport-encrypted.wire"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	o, err := osci.Open(f, osci.OpenOptions{Keys: []*keystore.Identity{pack("osci_manager_cipher_4096"), pack("dave_cipher_4096")}})
	if err != nil {
		panic(err)
	}
	defer o.Close()
	fmt.Println(o.Type, o.MessageID)
	fmt.Println("signed by", o.Signature.Signer.Subject.CommonName, "verified:", o.Signature.OK(), "references:", len(o.Signature.References))
	for _, c := range o.Containers {
		fmt.Printf("%s: %q\n", c.ID, c.Contents[0].Data)
	}
	// Output:
	// storeDelivery interop-msgid-storeDelivery-a
	// signed by Alice Signature 4096 verified: true references: 10
	// contentcontainer1: "Interop (a): content encrypted for reader dave. Umlaute: äöüß €"
	// contentcontainer0: "Interop (a): signed inline content."
}

// Send an application to an ABH's mailbox and fetch it as the ABH, through
// a test intermediary on a loopback listener.
func ExampleClient() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	im, err := intermediary.New(intermediary.Config{DataDir: dir, Signer: pack("osci_manager_signature_4096"),
		Cipher: pack("osci_manager_cipher_4096"), Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer im.Close()
	srv := httptest.NewServer(im)
	defer srv.Close()

	client := func(cipher string) *osci.Client {
		c, err := osci.NewClient(osci.Config{
			URL:                   srv.URL,
			IntermediaryCipher:    pack("osci_manager_cipher_4096").Certificate, // from the DVDV
			IntermediarySignature: pack("osci_manager_signature_4096").Certificate,
			Signer:                pack("alice_signature_4096"),
			Cipher:                pack(cipher),
			Logger:                quiet,
		})
		if err != nil {
			panic(err)
		}
		return c
	}
	ctx := context.Background()
	sender, abh := client("carol_cipher_4096"), client("bob_cipher_4096")
	bob := pack("bob_cipher_4096").Certificate

	// Obtain the message id first and keep it: after a crash the process
	// card of this id tells whether the delivery arrived.
	id, err := sender.GetMessageID(ctx)
	if err != nil {
		panic(err)
	}
	receipt, err := sender.StoreDelivery(ctx, &osci.Delivery{
		MessageID: id,
		Subject:   "130101",
		Addressee: bob,
		Containers: []osci.ContentContainer{{
			Sign:       true,
			EncryptFor: []*x509.Certificate{bob},
			Contents:   []osci.Content{{Data: []byte("<antrag/>")}, {Attachment: osci.AttachmentBytes("pass.pdf", []byte("%PDF-1.7"))}},
		}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("stored:", receipt.MessageID == id, "received at the intermediary:", receipt.ProcessCard.Creation != nil)

	f, err := abh.FetchDelivery(ctx, osci.FetchSelection{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	c := f.Containers[0]
	pdf, _ := c.Contents[1].Attachment.Bytes()
	fmt.Printf("fetched %q and %q, signature verified: %v\n", c.Contents[0].Data, pdf, c.Signatures[0].OK())

	_, err = abh.FetchDelivery(ctx, osci.FetchSelection{})
	fmt.Println("mailbox empty:", errors.Is(err, osci.ErrNoDelivery))
	// Output:
	// stored: true received at the intermediary: true
	// fetched "<antrag/>" and "%PDF-1.7", signature verified: true
	// mailbox empty: true
}

// Feedback codes are typed errors: the gateway retries transient ones only.
func ExampleRetryable() {
	for _, c := range []osci.Code{"0800", "3800", "9801", "9400", "9811", "9810"} {
		err := osci.NewFeedback(c).Err()
		fmt.Printf("%s %-7s error=%v retryable=%v\n", c, c.Severity(), err != nil, osci.Retryable(err))
	}
	// Output:
	// 0800 success error=false retryable=false
	// 3800 warning error=true retryable=false
	// 9801 error   error=true retryable=false
	// 9400 error   error=true retryable=true
	// 9811 error   error=true retryable=true
	// 9810 error   error=true retryable=false
}
