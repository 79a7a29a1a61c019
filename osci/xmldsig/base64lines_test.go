package xmldsig

import (
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
// whose last line is exactly 76 characters with or without padding, gives
// the reference layout.
func TestEncodeBase64LinesMatchesReferenceRule(t *testing.T) {
	for n := 0; n <= 600; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31 + n)
		}
		if got, want := EncodeBase64Lines(b), cutLines(b); got != want {
			t.Fatalf("%d bytes:\n got %q\nwant %q", n, got, want)
		}
	}
}
