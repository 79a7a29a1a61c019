package wire

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are synthetic messages from our own writer plus hand-made
// variants; the reference captures are not copied into testdata.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	add := func(m *Message) { seeds = append(seeds, encode(t, m)) }
	add(synthetic("MIME_boundary_X+OM8RXmk01/fqTAVKzTGUz3nuoetJ1z", []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\r\n\r\n<soap:Envelope/>")))
	add(synthetic("B", []byte("<r/>"), []byte("att"), []byte("\r\n--C"), nil))
	add(&Message{Boundary: "b", Parts: []PartSource{
		{Header: Header{{HeaderContentType, "text/xml"}, {HeaderContentID, "<osci@message>"}, {HeaderContentLength, "4"}}, Body: bytes.NewReader([]byte("<x/>")), Length: 4},
	}})
	seeds[len(seeds)-1] = bytes.Replace(seeds[len(seeds)-1], []byte("Content-Length: 4"), []byte("Content-Length: 2202"), 1) // the reference's wrong root length
	seeds = append(seeds,
		[]byte("Content-Type: multipart/related; boundary=\"q\"\r\n\r\npre\r\n--q \r\nX: a\r\n b\r\n\r\nbody\r\n--q--\r\nepilogue"),
		[]byte("Content-Type: Multipart/Related; boundary=B\r\n\r\n--B--\r\n"),
	)
	return seeds
}

// FuzzReader: no input makes the reader panic or hang, and whatever it
// accepts survives a write → read round trip unchanged.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), Limits{MaxParts: 64})
		if err != nil {
			return
		}
		var parts []readPart
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			body, err := io.ReadAll(p)
			if err != nil {
				return
			}
			parts = append(parts, readPart{p.Header, body})
		}
		m := Message{Boundary: r.Boundary(), Header: r.Header()}
		for _, p := range parts {
			m.Parts = append(m.Parts, PartSource{Header: p.header, Body: bytes.NewReader(p.body), Length: int64(len(p.body))})
		}
		var out bytes.Buffer
		if _, err := m.WriteTo(&out); err != nil {
			return // e.g. a lying Content-Length or a body the writer refuses
		}
		r2, err := NewReader(&out, Limits{MaxParts: 64})
		if err != nil {
			t.Fatalf("re-read of own output: %v", err)
		}
		for i := 0; ; i++ {
			p, err := r2.NextPart()
			if err == io.EOF {
				if i != len(parts) {
					t.Fatalf("re-read %d parts, want %d", i, len(parts))
				}
				return
			}
			if err != nil {
				t.Fatalf("re-read part %d: %v", i, err)
			}
			body, err := io.ReadAll(p)
			if err != nil || !bytes.Equal(body, parts[i].body) || fmt.Sprint(p.Header) != fmt.Sprint(parts[i].header) {
				t.Fatalf("part %d changed in round trip (err %v)", i, err)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzReader from fuzzSeeds
// when XAGW_UPDATE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("XAGW_UPDATE_FUZZ_SEEDS") != "1" {
		t.Skip("set XAGW_UPDATE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	writeSeedCorpus(t, "FuzzReader", fuzzSeeds(t))
}

func writeSeedCorpus(t *testing.T, target string, seeds [][]byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
