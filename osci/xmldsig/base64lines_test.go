package xmldsig

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// cutLines is the reference rule written the obvious way: encode, then a LF
// after every complete 76-character line.
func cutLines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) >= 76 {
		out.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	return out.String() + s
}

// EncodeBase64Lines encodes line by line; every length, including those
// whose last line is exactly 76 characters with or without padding and
// those that fill the batches of lines it writes at once, gives the
// reference layout.
func TestEncodeBase64LinesMatchesReferenceRule(t *testing.T) {
	for n := 0; n <= 3*base64LinesPerWrite*57+120; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31 + n)
		}
		if got, want := EncodeBase64Lines(b), cutLines(b); got != want {
			t.Fatalf("%d bytes:\n got %q\nwant %q", n, got, want)
		}
	}
}

// Every 12-bit value through the pair table, in each of the eight
// positions of a line's 64-bit steps and in its last three bytes.
func TestEncodeLineAllPairs(t *testing.T) {
	var src [57]byte
	var got [76]byte
	for v := 0; v < 4096; v++ {
		for i := range src {
			src[i] = byte(v*7 + i*13)
		}
		for pos := 0; pos+1 < 57; pos += 3 { // v in the high 12 bits of a triple
			src[pos], src[pos+1] = byte(v>>4), byte(v<<4)|src[pos+1]&15
		}
		encodeLine(&got, &src)
		if want := base64.StdEncoding.EncodeToString(src[:]); string(got[:]) != want {
			t.Fatalf("value %#x:\n got %s\nwant %s", v, got, want)
		}
	}
}

// FuzzEncodeBase64Lines compares WriteBase64Lines, into either kind of
// writer, with the reference rule.
func FuzzEncodeBase64Lines(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("0123456789012345678901234567890123456789012345678901234567"))
	f.Add(make([]byte, 57*base64LinesPerWrite+56))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := cutLines(b)
		var buf bytes.Buffer
		WriteBase64Lines(&buf, b)
		if got := EncodeBase64Lines(b); got != want || buf.String() != want {
			t.Fatalf("%d bytes:\n got %q\n buf %q\nwant %q", len(b), got, buf.String(), want)
		}
	})
}

// BenchmarkEncodeBase64Lines is a 30 KB ciphertext as a CipherValue;
// the stdlib sub-benchmark is the line-by-line encoding/base64 loop
// WriteBase64Lines replaced.
func BenchmarkEncodeBase64Lines(b *testing.B) {
	raw := make([]byte, 30<<10)
	for i := range raw {
		raw[i] = byte(i * 31)
	}
	b.Run("WriteBase64Lines", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			WriteBase64Lines(&buf, raw)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		var buf bytes.Buffer
		var line [76]byte
		for b.Loop() {
			buf.Reset()
			for r := raw; len(r) > 0; {
				n := min(57, len(r))
				m := base64.StdEncoding.EncodedLen(n)
				base64.StdEncoding.Encode(line[:m], r[:n])
				buf.Write(line[:m])
				buf.WriteByte('\n')
				r = r[n:]
			}
		}
	})
}

// keepingWriter keeps the slices it is given, as an io.Writer must not:
// WriteBase64Lines hands other writers than bytes.Buffer and
// strings.Builder a copy of its stack buffer.
type keepingWriter struct{ parts [][]byte }

func (k *keepingWriter) Grow(int) {}
func (k *keepingWriter) Write(p []byte) (int, error) {
	k.parts = append(k.parts, p)
	return len(p), nil
}
func (k *keepingWriter) WriteByte(c byte) error { k.parts = append(k.parts, []byte{c}); return nil }

func TestWriteBase64LinesOtherWriter(t *testing.T) {
	b := make([]byte, 5*base64LinesPerWrite*57+20)
	for i := range b {
		b[i] = byte(i * 13)
	}
	var k keepingWriter
	WriteBase64Lines(&k, b)
	if got := string(bytes.Join(k.parts, nil)); got != cutLines(b) {
		t.Fatalf("kept slices give\n%q\nwant\n%q", got, cutLines(b))
	}
}
