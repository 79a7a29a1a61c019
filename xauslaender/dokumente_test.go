package xauslaender_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
	"github.com/xagw/xagw/xauslaender/v2611"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// TestDocumentPackagesRoundTrip: the reference form end to end. An
// application refers to documents by UUID; the documents are packed into
// several package messages, each valid against the official schema; the
// receiver reassembles them from XML in any order.
func TestDocumentPackagesRoundTrip(t *testing.T) {
	b := testBundle(t)
	s, _ := samples.Lookup("antrag-erwerbstaetigkeit")
	antrag, err := s.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	docs := append(samples.ReferencedDocuments("antrag-erwerbstaetigkeit"),
		xauslaender.Document{UUID: "11111111-2222-4333-8444-555555555555", Format: "jpg", Data: bytes.Repeat([]byte{0xff, 0xd8, 1, 2, 3}, 400)})
	pakete, err := xauslaender.PackDocuments(antrag, docs, 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(pakete) < 3 {
		t.Fatalf("%d packages for a small part size", len(pakete))
	}
	a := antrag.(*v2611.OZGAntrag130101)
	if a.AngabenDokumentenlieferung.AnzahlDerPakete != int64(len(pakete)) {
		t.Fatalf("announced %d packages, built %d", a.AngabenDokumentenlieferung.AnzahlDerPakete, len(pakete))
	}
	v := xauslaender.NewValidator(b)
	if res, _, _ := v.ValidateMessage(antrag); !res.Valid {
		t.Fatalf("application after announcing packages: %+v", res.Problems)
	}
	dir, _ := xauslaender.NewABHDirectory(b)
	leser, _ := dir.Leser(samples.ABHKey)
	var received []xsd.Message
	for i, p := range pakete {
		if err := samples.EVSender(b).Prepare(p, leser); err != nil {
			t.Fatal(err)
		}
		res, data, err := v.ValidateMessage(p)
		if err != nil || !res.Valid {
			t.Fatalf("package %d: %v %+v", i+1, err, res)
		}
		in, err := xauslaender.Parse(data)
		if err != nil || in.Code != xauslaender.PaketCode {
			t.Fatalf("package %d: %v %+v", i+1, err, in)
		}
		received = append(received, in.Body)
	}
	rand.New(rand.NewSource(1)).Shuffle(len(received), func(i, j int) { received[i], received[j] = received[j], received[i] })
	got, err := xauslaender.UnpackDocuments(received, a.AngabenDokumentenlieferung.AnzahlDerPakete, a.AngabenDokumentenlieferung.Archivgroesse, xauslaender.UnpackLimits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		g, ok := got[strings.ToLower(d.UUID)]
		if !ok || !bytes.Equal(g.Data, d.Data) || g.Format != d.Format {
			t.Fatalf("document %s not recovered", d.UUID)
		}
	}
	// Incomplete or inconsistent deliveries are refused.
	if _, err := xauslaender.UnpackDocuments(received[1:], a.AngabenDokumentenlieferung.AnzahlDerPakete, 0, xauslaender.UnpackLimits{}); !errors.Is(err, xauslaender.ErrPackages) {
		t.Fatalf("missing package: %v", err)
	}
	if _, err := xauslaender.UnpackDocuments(received, 0, a.AngabenDokumentenlieferung.Archivgroesse+1, xauslaender.UnpackLimits{}); !errors.Is(err, xauslaender.ErrPackages) || !strings.Contains(err.Error(), "announced") {
		t.Fatalf("wrong size: %v", err)
	}
}

func zipOf(t *testing.T, entries map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

func paket(archive []byte) xsd.Message {
	p := &v2611.AdministrationDokumentenlieferungPaket000040{Dokumentcontainer: archive, Paketnummer: 1}
	p.IdentifikationFachnachricht.NachrichtenUUID = "0b6f4bbf-7d1e-4b0e-9d3e-2f6f0c7d8a11"
	return p
}

func TestUnpackRefusesHostileArchives(t *testing.T) {
	const u = "0b6f4bbf-7d1e-4b0e-9d3e-2f6f0c7d8a11"
	cases := map[string]struct {
		archive []byte
		limits  xauslaender.UnpackLimits
		msg     string
	}{
		"path traversal": {zipOf(t, map[string][]byte{"../" + u + ".pdf": []byte("x")}), xauslaender.UnpackLimits{}, "is not <dokumentuuid>.<format>"},
		"directory":      {zipOf(t, map[string][]byte{"docs/" + u + ".pdf": []byte("x")}), xauslaender.UnpackLimits{}, "is not <dokumentuuid>.<format>"},
		"zip bomb":       {zipOf(t, map[string][]byte{u + ".pdf": make([]byte, 4<<20)}), xauslaender.UnpackLimits{MaxExtracted: 1 << 20}, "larger than 1048576 bytes"},
		"too many":       {zipOf(t, map[string][]byte{u + ".pdf": nil, "1b6f4bbf-7d1e-4b0e-9d3e-2f6f0c7d8a11.pdf": nil}), xauslaender.UnpackLimits{MaxDocuments: 1}, "2 documents, limit 1"},
		"not a zip":      {[]byte("hello"), xauslaender.UnpackLimits{}, "not a zip archive"},
		"archive size":   {zipOf(t, map[string][]byte{u + ".pdf": []byte("x")}), xauslaender.UnpackLimits{MaxArchive: 10}, "archive larger than 10 bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := xauslaender.UnpackDocuments([]xsd.Message{paket(c.archive)}, 0, 0, c.limits)
			if !errors.Is(err, xauslaender.ErrPackages) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want …%s…", err, c.msg)
			}
		})
	}
	other := paket(zipOf(t, map[string][]byte{u + ".pdf": []byte("x")})).(*v2611.AdministrationDokumentenlieferungPaket000040)
	second := *other
	second.Paketnummer = 2
	second.IdentifikationFachnachricht.NachrichtenUUID = "9b6f4bbf-7d1e-4b0e-9d3e-2f6f0c7d8a11"
	if _, err := xauslaender.UnpackDocuments([]xsd.Message{other, &second}, 0, 0, xauslaender.UnpackLimits{}); err == nil || !strings.Contains(err.Error(), "belongs to message") {
		t.Fatalf("packages of two messages mixed: %v", err)
	}
	if _, err := xauslaender.PackDocuments(&v2611.OZGRuecknahme130111{}, samples.ReferencedDocuments("fachkraefte"), 0); err == nil {
		t.Fatal("packing for an unprepared message accepted")
	}
}

// TestSampleAnnouncementsMatchTheirPackages: the samples that refer to
// documents announce exactly the archive their documents make.
func TestSampleAnnouncementsMatchTheirPackages(t *testing.T) {
	for _, name := range []string{"antrag-erwerbstaetigkeit", "rueckkanal-antwort", "fachkraefte"} {
		s, _ := samples.Lookup(name)
		m := s.Content()
		n, _ := xsd.Text(m, "angabenDokumentenlieferung", "anzahlDerPakete")
		size, _ := xsd.Text(m, "angabenDokumentenlieferung", "archivgroesse")
		archive, err := xauslaender.BuildArchive(samples.ReferencedDocuments(name))
		if err != nil {
			t.Fatal(err)
		}
		if n != "1" || size != itoa(len(archive)) {
			t.Errorf("%s announces %s packages of %s bytes, archive has %d", name, n, size, len(archive))
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
