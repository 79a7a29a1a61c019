package osci

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/xagw/xagw/osci/wire"
)

// FaultEnvelope returns the SOAP fault envelope the reference writes for a
// message-level error: faultcode soap:Server for the supplier's internal
// errors (9000, 9503), soap:Client otherwise, the OSCI code in the detail.
// Faults are neither signed nor encrypted.
func FaultEnvelope(code Code, text string) []byte {
	if text == "" {
		text = code.Text()
	}
	side := "Client"
	if code.Level() == LevelFaultServer {
		side = "Server"
	}
	var b xw
	b.WriteString(xmlDeclaration)
	b.start("soap:Envelope", ` xmlns:osci="`+NSOSCI+`" xmlns:soap="`+NSSOAP+`"`)
	b.start("soap:Body", "")
	b.start("soap:Fault", "")
	b.text("faultcode", "soap:"+side)
	b.text("faultstring", text)
	b.start("detail", "")
	b.text("osci:Code", string(code))
	b.end("detail")
	b.end("soap:Fault")
	b.end("soap:Body")
	b.end("soap:Envelope")
	return b.Bytes()
}

// FaultMessage wraps FaultEnvelope in an OSCI MIME entity.
func FaultMessage(code Code, text string) *wire.Message {
	return &wire.Message{Boundary: wire.NewBoundary(), Parts: []wire.PartSource{wire.RootPart(FaultEnvelope(code, text))}}
}

// WriteFault answers an HTTP request with a SOAP fault. The status is 200:
// OSCI clients (the reference's HttpURLConnection transport among them)
// read the fault from the body and would only see an I/O error on a 500.
func WriteFault(w http.ResponseWriter, code Code, text string) error {
	var b bytes.Buffer
	if _, err := FaultMessage(code, text).WriteTo(&b); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b.Bytes())
	return err
}

// WriteOutgoing sends a composed message as an HTTP response (or writes it
// to any http.ResponseWriter) with its exact Content-Length.
func WriteOutgoing(w http.ResponseWriter, out *Outgoing) error {
	n, err := out.Len() // validates the message before the status goes out
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	// The MIME stream comes in many small reads (part headers, boundaries,
	// ciphertext chunks). Handed to the ResponseWriter's ReadFrom, each read
	// became a write system call on the connection and a fresh 32 KiB copy
	// buffer was allocated per response; gathered in a pooled 64 KiB buffer,
	// a typical response is two writes (the server's own 4 KiB buffer with
	// the headers, then the rest).
	bw := responseBuffers.Get().(*bufio.Writer)
	bw.Reset(struct{ io.Writer }{w}) // hide ReadFrom: the buffer gathers
	_, err = out.WriteTo(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	bw.Reset(nil)
	responseBuffers.Put(bw)
	return err
}

var responseBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
