// Command fuzzgen rewrites the committed fuzz corpora of package osci so
// that they carry certificates of the project's own test PKI (osci/testpki)
// only, never those of the OSCI interop pack in ../shared (third-party
// material stays there; security review finding 10). Run it from the
// repository root:
//
//	go run ./osci/testdata/fuzzgen
//
// It lives under testdata so that `go build ./...` and `go test ./...` skip
// it. What it does:
//
//   - FuzzOpen: the same two messages as the target's in-code seeds (a
//     storeDelivery with a signed container and one encrypted for the
//     addressee, each with inline content and an attachment; plain and
//     transport-encrypted), composed by osci.Client with test-PKI
//     identities and captured on the way out instead of being sent.
//   - FuzzParseEnvelope and FuzzSerializeMatchesEtree: the envelope seeds
//     keep their bytes, except that every certificate not issued by the
//     test PKI is replaced by a test-PKI certificate of the same kind
//     (signature or cipher; the parser does not verify signatures).
//
// Afterwards it checks that no corpus file under osci/ (any package's
// testdata/fuzz) holds a certificate or public key of the interop pack, as
// base64 or as raw bytes, and fails if one does.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/testpki"
)

const corpusHeader = "go test fuzz v1\n"

func main() {
	log.SetFlags(0)
	scan := flag.String("scan", "", "only check every file under this folder (e.g. . for the whole repository) for interop-pack certificates and keys")
	flag.Parse()
	if *scan != "" {
		if err := checkTree(*scan, true); err != nil {
			log.Fatal(err)
		}
		log.Printf("fuzzgen: no interop-pack certificate or key under %s", *scan)
		return
	}
	root := filepath.Join("osci", "testdata", "fuzz")
	if _, err := os.Stat(root); err != nil {
		log.Fatalf("fuzzgen: run from the repository root: %v", err)
	}
	pki, err := testpki.Generate(testpki.Options{RSABits: 2048, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		InsecureDeterministicSeed: []byte("xagw osci fuzz corpus")})
	if err != nil {
		log.Fatal(err)
	}
	if err := openSeeds(pki, filepath.Join(root, "FuzzOpen")); err != nil {
		log.Fatal(err)
	}
	r := newReplacer(pki)
	for _, dir := range []string{"FuzzParseEnvelope", "FuzzSerializeMatchesEtree"} {
		if err := r.rewriteDir(filepath.Join(root, dir)); err != nil {
			log.Fatal(err)
		}
	}
	if err := checkTree("osci", false); err != nil {
		log.Fatal(err)
	}
	log.Printf("fuzzgen: %d certificate(s) replaced; no interop-pack certificate or key left in corpora under osci/", r.replaced)
}

// capture records a request body and answers with an error, so the client
// composes a complete message without any intermediary.
type capture struct{ body []byte }

var errCaptured = errors.New("captured")

func (c *capture) RoundTrip(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	c.body = b
	return nil, errCaptured
}

func openSeeds(pki *testpki.PKI, dir string) error {
	addressee := pki.Entity("addressee-cipher").Certificate
	for i, transport := range []bool{false, true} {
		cp := &capture{}
		c, err := osci.NewClient(osci.Config{URL: "http://fuzzgen.invalid/osci", IntermediaryCipher: pki.Entity("intermediary-cipher").Certificate,
			IntermediarySignature: pki.Entity("intermediary-signature").Certificate, Signer: pki.Entity("sender-signature").Identity(),
			Cipher: pki.Entity("sender-cipher").Identity(), Policy: pki.Policy(), PlainTransport: !transport,
			HTTPClient: &http.Client{Transport: cp}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return err
		}
		d := &osci.Delivery{MessageID: "m", Subject: "s", Addressee: addressee, Containers: []osci.ContentContainer{
			{Sign: true, Contents: []osci.Content{{Data: []byte("a")}, {Attachment: osci.AttachmentBytes("x", []byte("b"))}}},
			{EncryptFor: []*x509.Certificate{addressee}, Contents: []osci.Content{{Data: []byte("c")}, {Attachment: osci.AttachmentBytes("y", []byte("d"))}}},
		}}
		if _, err := c.StoreDelivery(context.Background(), d); !errors.Is(err, errCaptured) || cp.body == nil {
			return fmt.Errorf("fuzzgen: composing the FuzzOpen seed: %v", err)
		}
		if err := writeSeed(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), cp.body); err != nil {
			return err
		}
	}
	return nil
}

func writeSeed(path string, data []byte) error {
	return os.WriteFile(path, []byte(fmt.Sprintf("%s[]byte(%q)\n", corpusHeader, data)), 0o644)
}

func readSeed(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(b), corpusHeader))
	if !strings.HasPrefix(s, "[]byte(") || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("fuzzgen: %s is not a single []byte corpus entry", path)
	}
	v, err := strconv.Unquote(s[len("[]byte(") : len(s)-1])
	if err != nil {
		return nil, fmt.Errorf("fuzzgen: %s: %w", path, err)
	}
	return []byte(v), nil
}

// certElem finds base64 certificates in XML signature and OSCI elements.
var certElem = regexp.MustCompile(`(<(?:[A-Za-z0-9_]+:)?X509Certificate(?:\s[^>]*)?>)([^<]*)(<)`)

type replacer struct {
	pki      *testpki.PKI
	own      map[[32]byte]bool
	mapping  map[[32]byte]*x509.Certificate
	sigPool  []*x509.Certificate
	ciphPool []*x509.Certificate
	replaced int
}

func newReplacer(pki *testpki.PKI) *replacer {
	r := &replacer{pki: pki, own: ownCerts(pki), mapping: map[[32]byte]*x509.Certificate{}}
	for _, n := range []string{"sender-signature", "intermediary-signature", "addressee-signature", "sender-signature-rsa2048"} {
		r.sigPool = append(r.sigPool, pki.Entity(n).Certificate)
	}
	for _, n := range []string{"sender-cipher", "addressee-cipher", "reader-cipher", "intermediary-cipher", "addressee-cipher-rsa2048"} {
		r.ciphPool = append(r.ciphPool, pki.Entity(n).Certificate)
	}
	return r
}

func ownCerts(pki *testpki.PKI) map[[32]byte]bool {
	own := map[[32]byte]bool{sha256.Sum256(pki.Root.Certificate.Raw): true, sha256.Sum256(pki.IssuingCA.Certificate.Raw): true}
	for _, e := range pki.Entities {
		own[sha256.Sum256(e.Certificate.Raw)] = true
	}
	return own
}

// substitute returns the test-PKI certificate standing in for c.
func (r *replacer) substitute(c *x509.Certificate) (*x509.Certificate, error) {
	h := sha256.Sum256(c.Raw)
	if sub, ok := r.mapping[h]; ok {
		return sub, nil
	}
	pool := &r.ciphPool
	if c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != 0 && c.KeyUsage&(x509.KeyUsageKeyEncipherment|x509.KeyUsageDataEncipherment) == 0 {
		pool = &r.sigPool
	}
	if len(*pool) == 0 {
		return nil, fmt.Errorf("fuzzgen: more distinct foreign certificates than test-PKI stand-ins (%s)", c.Subject)
	}
	sub := (*pool)[0]
	*pool = (*pool)[1:]
	r.mapping[h] = sub
	return sub, nil
}

func (r *replacer) rewriteDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		data, err := readSeed(path)
		if err != nil {
			return err
		}
		var ferr error
		out := certElem.ReplaceAllFunc(data, func(m []byte) []byte {
			sm := certElem.FindSubmatch(m)
			text := sm[2]
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(text)), ""))
			if err != nil {
				return m
			}
			c, err := x509.ParseCertificate(der)
			if err != nil || r.own[sha256.Sum256(der)] {
				return m
			}
			sub, err := r.substitute(c)
			if err != nil {
				ferr = err
				return m
			}
			r.replaced++
			return append(append(append([]byte(nil), sm[1]...), rewrap(text, base64.StdEncoding.EncodeToString(sub.Raw))...), sm[3]...)
		})
		if ferr != nil {
			return ferr
		}
		if !bytes.Equal(out, data) {
			if err := writeSeed(path, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// rewrap lays b64 out like orig: the same line length and line end, and
// the same leading and trailing white space.
func rewrap(orig []byte, b64 string) []byte {
	s := string(orig)
	lead := s[:len(s)-len(strings.TrimLeft(s, " \t\r\n"))]
	trail := s[len(strings.TrimRight(s, " \t\r\n")):]
	body := strings.TrimSpace(s)
	i := strings.IndexAny(body, "\r\n")
	if i < 0 {
		return []byte(lead + b64 + trail)
	}
	sep := "\n"
	if body[i] == '\r' {
		sep = "\r\n"
	}
	var b strings.Builder
	b.WriteString(lead)
	for len(b64) > i {
		b.WriteString(b64[:i])
		b.WriteString(sep)
		b64 = b64[i:]
	}
	b.WriteString(b64)
	b.WriteString(trail)
	return []byte(b.String())
}

// base64Run finds long base64 runs (possibly wrapped) anywhere in a file.
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/=\r\n]{200,}`)

// interopKeys returns the interop pack's certificates (read from
// ../shared/osci/certs, never copied) as the byte strings to look for:
// each certificate's DER and its SubjectPublicKeyInfo.
func interopKeys() (map[string][]byte, error) {
	dir, err := sharedpath.Find("osci")
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "certs", "*.cer"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("fuzzgen: no interop certificates under %s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		der, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("fuzzgen: %s: %w", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".cer")
		out[name+" (certificate)"] = c.Raw
		out[name+" (public key)"] = c.RawSubjectPublicKeyInfo
	}
	return out, nil
}

// checkTree fails if a corpus file under dir (any testdata/fuzz; every
// file with all) holds an interop-pack certificate or public key, as raw
// bytes or inside base64.
func checkTree(dir string, all bool) error {
	keys, err := interopKeys()
	if err != nil {
		return err
	}
	var bad []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || (!all && !strings.Contains(filepath.ToSlash(path), "/testdata/fuzz/")) {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		blobs := [][]byte{raw}
		data, err := readSeed(path)
		if err != nil {
			data = raw
		} else {
			blobs = append(blobs, data)
		}
		{
			for _, run := range base64Run.FindAll(data, -1) {
				if der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(run)), "")); err == nil {
					blobs = append(blobs, der)
				}
			}
		}
		for name, k := range keys {
			for _, b := range blobs {
				if bytes.Contains(b, k) {
					bad = append(bad, path+": "+name)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("fuzzgen: interop-pack material remains:\n  %s", strings.Join(bad, "\n  "))
	}
	return nil
}
