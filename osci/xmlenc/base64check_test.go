package xmlenc

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// decodes is what validBase64 must predict.
func decodes(s string) bool {
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

// Every string of up to seven characters over letters, padding, CR, LF and
// two characters outside the alphabet: validBase64 agrees with the decoder
// on each (the padding and line-break rules live in short strings).
func TestValidBase64Exhaustive(t *testing.T) {
	alphabet := []byte("AQ=\r\n *")
	buf := make([]byte, 0, 7)
	var walk func(int)
	checked := 0
	walk = func(depth int) {
		s := string(buf)
		if got, want := validBase64(s), decodes(s); got != want {
			t.Fatalf("validBase64(%q) = %v, decoder says %v", s, got, want)
		}
		checked++
		if depth == cap(buf) {
			return
		}
		for _, c := range alphabet {
			buf = append(buf, c)
			walk(depth + 1)
			buf = buf[:len(buf)-1]
		}
	}
	walk(0)
	if checked < 900000 {
		t.Fatalf("checked only %d strings", checked)
	}
}

// Long texts exercise the eight-byte steps: valid ciphertext layouts, and
// one wrong byte at every position of a line.
func TestValidBase64Long(t *testing.T) {
	raw := make([]byte, 300)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	for n := 0; n <= len(raw); n += 13 {
		for _, text := range []string{base64.StdEncoding.EncodeToString(raw[:n]), wrapped(raw[:n], "\n"), wrapped(raw[:n], "\r\n")} {
			if !validBase64(text) || !decodes(text) {
				t.Fatalf("valid text of %d bytes refused: %q", n, text)
			}
			for i := range text {
				for _, c := range []byte{'=', '*', ' ', 0x80, '\n'} {
					bad := text[:i] + string(c) + text[i+1:]
					if got, want := validBase64(bad), decodes(bad); got != want {
						t.Fatalf("validBase64(%q) = %v, decoder says %v", bad, got, want)
					}
				}
			}
		}
	}
}

func wrapped(b []byte, eol string) string {
	s := base64.StdEncoding.EncodeToString(b)
	out := ""
	for len(s) > 76 {
		out += s[:76] + eol
		s = s[76:]
	}
	return out + s
}

// FuzzValidBase64 compares validBase64 with encoding/base64 on any input.
func FuzzValidBase64(f *testing.F) {
	for _, s := range []string{"", "QUJD", "QUI=", "QQ==", "QQ=\r\n=", "QQ==\nQQ==", "Q===", "QUJDRA==QUJD", wrapped([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"), "\r\n")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validBase64(s), decodes(s); got != want {
			t.Fatalf("validBase64(%q) = %v, decoder says %v", s, got, want)
		}
	})
}

// ParseEncryptedDataDeferred refuses exactly what ParseEncryptedData
// refuses, with the same error, and decrypts and builds to the same result.
func TestParseEncryptedDataDeferredMatches(t *testing.T) {
	key, cert := roundTripIdentity(t)
	plaintext := []byte(`<osci:ContentContainer Id="c"><osci:Content>äöü €</osci:Content></osci:ContentContainer>`)
	m := Method{Algorithm: AES256GCM, IVLength: 12}
	ck, err := NewKey(m.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := NewEncryptedKey(DefaultKeyTransport, cert, ck)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := Seal(m, ck, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	el, err := (&EncryptedData{Id: "encdata_0", MimeType: "text/xml", Method: m, Keys: []*EncryptedKey{ek}, CipherValue: ct}).Build()
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, []byte(envelopeStart))
	doc.FindElement("//osci:ContentPackage").AddChild(el)
	doc.WriteSettings.CanonicalEndTags = true
	wire, _ := doc.WriteToBytes()
	good := base64.StdEncoding.EncodeToString(ct)
	for _, text := range []string{good, wrapped(ct, "\r\n"), " " + good, good + "\t", "", good[:len(good)-1], good + "=", good + "*", "====", good[:8] + "\r\n=" + good[9:]} {
		cv := parse(t, wire).FindElement("//xenc:EncryptedData")
		cv.FindElement(".//xenc:CipherValue").SetText(text)
		eager, eerr := ParseEncryptedData(cv)
		lazy, lerr := ParseEncryptedDataDeferred(cv)
		if (eerr == nil) != (lerr == nil) || (eerr != nil && eerr.Error() != lerr.Error()) {
			t.Fatalf("CipherValue %.40q: ParseEncryptedData %v, deferred %v", text, eerr, lerr)
		}
		if eerr != nil {
			continue
		}
		k, err := eager.Keys[0].Unwrap(key, m.Algorithm, DecryptOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p1, e1 := eager.Decrypt(k, DecryptOptions{})
		b2, be := lazy.Build() // decodes the deferred text
		p2, e2 := lazy.Decrypt(k, DecryptOptions{})
		if !bytes.Equal(p1, p2) || (e1 == nil) != (e2 == nil) || be != nil || b2 == nil {
			t.Fatalf("CipherValue %.40q: eager %q %v, deferred %q %v (build %v)", text, p1, e1, p2, e2, be)
		}
		if text == good && (e1 != nil || !bytes.Equal(p1, plaintext)) {
			t.Fatalf("intact ciphertext: %q %v", p1, e1)
		}
	}
}

// BenchmarkCipherValueText compares checking the text of a 30 KB
// ciphertext (41 KB of base64 in 76-character lines, as written) with
// decoding it.
func BenchmarkCipherValueText(b *testing.B) {
	raw := make([]byte, 30<<10)
	for i := range raw {
		raw[i] = byte(i * 31)
	}
	text := wrapped(raw, "\n")
	b.Run("validBase64", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if !validBase64(text) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("DecodeString", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := base64.StdEncoding.DecodeString(text); err != nil {
				b.Fatal(err)
			}
		}
	})
}
