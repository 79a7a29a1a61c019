package samples

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
)

// pdf renders a small but well-formed one-page PDF 1.4 document with the
// given title and lines (Helvetica, A4), so sample attachments open in any
// viewer. The output is deterministic.
func pdf(title string, lines []string) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 14 Tf 56 780 Td ")
	fmt.Fprintf(&content, "(%s) Tj /F1 10 Tf 0 -28 Td 14 TL ", pdfEscape(title))
	for _, l := range lines {
		fmt.Fprintf(&content, "(%s) ' ", pdfEscape(l))
	}
	content.WriteString("ET")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()),
		fmt.Sprintf("<< /Title (%s) /Producer (xagw samples) >>", pdfEscape(title)),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// pdfEscape escapes a PDF string and maps German letters to WinAnsi.
func pdfEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`,
		"ä", `\344`, "ö", `\366`, "ü", `\374`, "Ä", `\304`, "Ö", `\326`, "Ü", `\334`, "ß", `\337`, "§", `\247`, "€", `\200`)
	return r.Replace(s)
}

// photo renders a small JPEG of a neutral passport-photo placeholder
// (a head-and-shoulders silhouette on a light background), deterministic.
func photo(w, h int, seed uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy := w/2, h*2/5
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{R: 228 - uint8(y*20/h), G: 232 - uint8(y*20/h), B: 236, A: 255}
			dx, dy := x-cx, y-cy
			head := dx*dx*16+dy*dy*9 < (w*w*16)/25
			shoulders := y > h*7/10 && (dx*dx)*4 < (y-h*6/10)*(y-h*6/10)*9
			if head || shoulders {
				v := 90 + uint8((x*3+y*5+int(seed))%23)
				c = color.RGBA{R: v, G: v - 8, B: v - 14, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return b.Bytes()
}

// scan renders a JPEG of a document page placeholder: light paper with
// dark text-like bars, deterministic.
func scan(w, h int, seed uint8) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(245)
			row := y / 6
			if y%6 < 3 && row > 2 && x > 8 && x < w-8-(row*37+int(seed))%(w/3) {
				v = 60 + uint8((x+int(seed))%30)
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 70}); err != nil {
		panic(err)
	}
	return b.Bytes()
}
