package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// A released Reader fails instead of reading someone else's buffer, and
// releasing twice does not hand the buffer out twice.
func TestReaderRelease(t *testing.T) {
	var msg bytes.Buffer
	m := &Message{Boundary: "b0undary", Parts: []PartSource{RootPart([]byte("<a/>")), AttachmentPart("x", bytes.NewReader([]byte("payload")), 7)}}
	if _, err := m.WriteTo(&msg); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(msg.Bytes()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(root); string(b) != "<a/>" {
		t.Fatalf("root %q", b)
	}
	r.Release()
	r.Release()
	if _, err := r.NextPart(); !errors.Is(err, errReleased) {
		t.Fatalf("NextPart after Release: %v", err)
	}
	// Two new readers get two different buffers.
	a, _ := NewReader(bytes.NewReader(msg.Bytes()), Limits{})
	b, _ := NewReader(bytes.NewReader(msg.Bytes()), Limits{})
	if a.br == b.br {
		t.Fatal("one buffer handed out twice")
	}
	for _, x := range []*Reader{a, b} {
		p, err := x.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(p); string(got) != "<a/>" {
			t.Fatalf("root %q", got)
		}
	}
}

// Spool.ReadFrom (used by io.Copy) keeps the same content as Write, in
// memory and once moved to its encrypted file.
func TestSpoolReadFrom(t *testing.T) {
	data := make([]byte, 200<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, mem := range []int64{1 << 20, 4 << 10} {
		s := NewSpool(t.TempDir(), mem)
		n, err := io.Copy(s, bytes.NewReader(data))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("memLimit %d: copied %d, %v", mem, n, err)
		}
		got, err := io.ReadAll(s.Reader())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("memLimit %d: read back %d bytes, %v", mem, len(got), err)
		}
		s.Close()
	}
}
