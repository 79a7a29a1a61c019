package osci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/iotest"
	"time"
)

// testClient is a client of the pack's identities talking plain transport
// to url.
func testClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := NewClient(Config{URL: url, PlainTransport: true,
		IntermediarySignature: sharedCert(t, "osci_manager_signature_4096"),
		Signer:                sharedIdentity(t, "alice_signature_4096"),
		Cipher:                sharedIdentity(t, "carol_cipher_4096"),
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// What goes wrong on the way back is classified so that Retryable is
// right: a proxy's error page, a connection lost mid-response, a fault
// under any status, a cancelled or expired context.
func TestClientFailureClassification(t *testing.T) {
	cases := []struct {
		name      string
		handler   http.HandlerFunc
		check     func(error) bool
		retryable bool
	}{
		{"proxy error page", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>Bad Gateway</html>", http.StatusBadGateway)
		}, func(err error) bool { var he *HTTPError; return errors.As(err, &he) && he.Status == 502 }, true},
		{"client error status", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "forbidden", http.StatusForbidden)
		}, func(err error) bool { var he *HTTPError; return errors.As(err, &he) && he.Status == 403 }, false},
		{"connection lost mid-response", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(100000))
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("MIME-Version: 1.0\r\nContent-Type: Multipart/Related; boundary=b; type=text/xml\r\n\r\n--b\r\n\r\n<soap"))
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, func(err error) bool { var te *TransportError; return errors.As(err, &te) }, true},
		{"fault with status 500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			FaultMessage(CodeSupplierInternal, "").WriteTo(w)
		}, func(err error) bool { return errors.Is(err, ErrCode(CodeSupplierInternal)) }, true},
		{"fault with status 200", func(w http.ResponseWriter, r *http.Request) {
			WriteFault(w, CodeStructureInvalid, "")
		}, func(err error) bool { var fe *FaultError; return errors.As(err, &fe) && fe.Code() == "9100" }, false},
		{"garbage with status 200", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("hello"))
		}, func(err error) bool { var pe *ParseError; return errors.As(err, &pe) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			_, err := testClient(t, srv.URL).GetMessageID(context.Background())
			if err == nil || !c.check(err) || Retryable(err) != c.retryable {
				t.Fatalf("got %T %v (retryable %v)", err, err, Retryable(err))
			}
		})
	}

	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	cl := testClient(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := cl.GetMessageID(ctx); !errors.Is(err, context.DeadlineExceeded) || !Retryable(err) {
		t.Fatalf("deadline: %v (retryable %v)", err, Retryable(err))
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := cl.GetMessageID(ctx); !errors.Is(err, context.Canceled) || Retryable(err) {
		t.Fatalf("cancel: %v (retryable %v)", err, Retryable(err))
	}
}

// fullReader hands the HTTP transport full buffers (one write system call
// each) from a stream that answers every Read with a few bytes, and still
// ends with io.EOF after the short last piece.
func TestFullReaderFillsBuffers(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789"), 1000) // 10,000 bytes
	r := &fullReader{r: iotest.OneByteReader(bytes.NewReader(src))}
	var got []byte
	buf := make([]byte, 4096)
	var sizes []int
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if n > 0 {
			sizes = append(sizes, n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, src) || len(sizes) != 3 || sizes[0] != 4096 || sizes[1] != 4096 || sizes[2] != 10000-8192 {
		t.Fatalf("read sizes %v, %d bytes", sizes, len(got))
	}
	broken := &fullReader{r: io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(errors.New("cut")))}
	if n, err := broken.Read(buf); n != 3 || err == nil || err.Error() != "cut" {
		t.Fatalf("read error not passed on: %d, %v", n, err)
	}
}
