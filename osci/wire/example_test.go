package wire_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/xagw/xagw/osci/wire"
)

// Compose an OSCI message in the reference layout, get its exact length for
// the HTTP Content-Length, and stream it.
func ExampleMessage() {
	soap := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\r\n\r\n<soap:Envelope/>")
	attachment := strings.NewReader("attachment bytes")
	msg := wire.Message{
		Boundary: "MIME_boundary_example", // use wire.NewBoundary() in real messages
		Parts: []wire.PartSource{
			wire.RootPart(soap),
			wire.AttachmentPart("attachment-a.txt", attachment, int64(attachment.Len())),
		},
	}
	n, err := msg.Len()
	if err != nil {
		panic(err)
	}
	var body bytes.Buffer // an http.Request body in practice
	if _, err := msg.WriteTo(&body); err != nil {
		panic(err)
	}
	fmt.Println(n == int64(body.Len()))
	fmt.Println(strings.SplitN(body.String(), "\r\n", 3)[1])
	// Output:
	// true
	// Content-Type: Multipart/Related; boundary=MIME_boundary_example; type=text/xml
}

// Read an OSCI HTTP body part by part; bodies are streamed, not buffered.
func ExampleReader() {
	body := "MIME-Version: 1.0\r\n" +
		"Content-Type: Multipart/Related; boundary=MIME_boundary_a+b/c; type=text/xml\r\n\r\n" +
		"--MIME_boundary_a+b/c\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-ID: <osci@message>\r\n\r\n" +
		"<soap:Envelope/>\r\n" +
		"--MIME_boundary_a+b/c\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8-bit\r\nContent-ID: <a.txt>\r\nContent-Length: 3\r\n\r\n" +
		"abc\r\n" +
		"--MIME_boundary_a+b/c--\r\n"
	r, err := wire.NewReader(strings.NewReader(body), wire.Limits{})
	if err != nil {
		panic(err)
	}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		n, _ := io.Copy(io.Discard, p)
		fmt.Printf("%s %s %d bytes\n", p.ContentID(), p.TransferEncoding(), n)
	}
	// Output:
	// osci@message 8bit 16 bytes
	// a.txt 8bit 3 bytes
}
