package testvectors

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/osci/xmldsig"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/testvectors/report"
	"github.com/xagw/xagw/xauslaender"
)

// kitDir is the committed kit: this package's directory.
const kitDir = "."

var (
	bundleOnce sync.Once
	bundle     *schemas.Bundle
	bundleErr  error
)

func testBundle(t testing.TB) *schemas.Bundle {
	t.Helper()
	bundleOnce.Do(func() { bundle, bundleErr = schemas.OpenDefault() })
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundle
}

func verifyKit(t *testing.T, dir string, only ...string) *report.Report {
	t.Helper()
	r, err := Verify(context.Background(), VerifyOptions{Dir: dir, Bundle: testBundle(t), Only: only})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// copyKit copies the committed kit's data (manifest and listed files) into
// a temporary directory.
func copyKit(t *testing.T) string {
	t.Helper()
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	files := []string{ManifestFile}
	for _, f := range m.Files {
		if !f.OnDemand {
			files = append(files, f.Path)
		}
	}
	for _, p := range files {
		data, err := os.ReadFile(filepath.Join(kitDir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		full := filepath.Join(dst, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestCommittedKitVerifies(t *testing.T) {
	r := verifyKit(t, kitDir)
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Results) != len(m.Vectors) {
		t.Fatalf("%d results for %d vectors", len(r.Results), len(m.Vectors))
	}
	for _, res := range r.Results {
		v, _ := m.Vector(res.ID)
		if res.Status == report.StatusSkip && v.Inputs[0].OnDemand {
			continue // made on demand; TestLargeVectorOnDemand covers it
		}
		if res.Status != report.StatusPass {
			t.Errorf("%s: %s: expected %s, got %s: %s", res.ID, res.Status, res.Expected, res.Got, res.Detail)
		}
	}
	if !r.OK() {
		t.Errorf("report not OK: problems %v", r.Problems)
	}
}

func TestManifestHashesMatchEveryFile(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	if probs := m.CheckFiles(kitDir, true); len(probs) > 0 {
		t.Fatalf("kit files differ from the manifest: %v", probs)
	}
	// Every file in the data folders is listed, and every listed file is
	// used by a vector or is key material.
	used := map[string]bool{}
	for _, v := range m.Vectors {
		for _, in := range v.Inputs {
			used[in.Path] = true
		}
	}
	for _, f := range m.Files {
		if !used[f.Path] && !strings.HasPrefix(f.Path, "pki/") {
			t.Errorf("%s is listed but no vector uses it", f.Path)
		}
	}
}

func TestEveryMessageTypeHasAValidVector(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, v := range m.Vectors {
		if v.Kind == KindXAuslaender && v.Expect.Outcome == OutcomeAccept {
			have[v.Expect.MessageType] = true
		}
	}
	for _, spec := range xauslaender.Latest().Messages {
		if !strings.HasPrefix(spec.Element, "OZG.") && spec.Code != rueckweisungCode {
			continue // the issue asks for every OZG type (and the Rückweisung replies use)
		}
		if !have[spec.Code] {
			t.Errorf("no valid vector for %s (%s)", spec.Code, spec.Element)
		}
	}
}

// Each rule family the issue names has at least one negative vector, and
// each negative vector is rejected with exactly its class.
func TestNegativeVectorsFailWithTheirClass(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	r := verifyKit(t, kitDir, "xa.invalid.")
	got := map[string]report.Result{}
	for _, res := range r.Results {
		got[res.ID] = res
	}
	classes := map[string]int{}
	for _, v := range m.Vectors {
		if v.Kind != KindXAuslaender || v.Expect.Outcome != OutcomeReject {
			continue
		}
		classes[v.Expect.Class]++
		res := got[v.ID]
		if res.Got != "reject/"+v.Expect.Class || res.Status != report.StatusPass {
			t.Errorf("%s: got %q (%s) %s", v.ID, res.Got, res.Status, res.Detail)
		}
		if v.BasedOn == "" && v.Expect.Class != ClassXML {
			t.Errorf("%s names no valid vector it was derived from", v.ID)
		}
	}
	for _, c := range []string{ClassXML, ClassNamespace, ClassVersion, ClassHeader, ClassCodeList, ClassSchema} {
		if classes[c] == 0 {
			t.Errorf("no negative XAusländer vector of class %s", c)
		}
	}
	if classes[ClassSchema] < 3 || classes[ClassCodeList] < 2 || classes[ClassHeader] < 3 {
		t.Errorf("the issue asks for missing element, date format, element order (schema), unknown code and list version (codelist), nachrichtentyp, UUID, leser (header): have %v", classes)
	}
}

// A flipped byte in any file of the kit fails verify, naming the file.
func TestTamperingAnyFileFailsVerify(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := copyKit(t)
	users := map[string][]string{}
	for _, v := range m.Vectors {
		for _, in := range v.Inputs {
			users[in.Path] = append(users[in.Path], v.ID)
		}
	}
	for _, f := range m.Files {
		if f.OnDemand {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), orig...)
		bad[len(bad)/2] ^= 0x01
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		only := users[f.Path]
		if len(only) == 0 {
			only = []string{"no-vector"}
		}
		r := verifyKit(t, dir, only...)
		if r.OK() {
			t.Errorf("%s tampered: verify still conforms", f.Path)
		}
		named := false
		for _, p := range r.Problems {
			named = named || strings.Contains(p, f.Path)
		}
		if !named {
			t.Errorf("%s tampered: no problem names it: %v", f.Path, r.Problems)
		}
		for _, res := range r.Results {
			if res.Status == report.StatusPass {
				t.Errorf("%s tampered: vector %s still passes", f.Path, res.ID)
			}
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The vector checks look at the content, not only at the hashes: a changed
// input whose manifest entry is updated to match still fails its vector.
func TestChangedInputWithMatchingManifestFailsItsVector(t *testing.T) {
	dir := copyKit(t)
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]func([]byte) []byte{
		// A valid application with a date in the wrong format.
		"xa.valid.130101.antrag-familiennachzug": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<xauslaender:antragsdatum>2026-02-20<"), []byte("<xauslaender:antragsdatum>20.02.2026<"), 1)
		},
		// A negative vector replaced by the valid document it came from.
		"xa.invalid.header.nachrichtentyp-mismatch": func([]byte) []byte {
			b, err := os.ReadFile(filepath.Join(dir, "xauslaender/valid/130111-ruecknahme.xml"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		// The unknown code replaced by a listed one.
		"xa.invalid.codelist.unknown-code": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<code>99</code>"), []byte("<code>01</code>"), 1)
		},
		// A valid OSCI message in place of another one: it opens cleanly,
		// but message id, content and readers differ from the expectation.
		"osci.valid.store-readers.responseToFetchDelivery": func([]byte) []byte {
			b, err := os.ReadFile(filepath.Join(dir, "osci/valid/store-signed-encrypted.responseToFetchDelivery.mime"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		// A negative OSCI vector replaced by a correct message.
		"osci.invalid.decrypt.truncated-gcm-tag": func([]byte) []byte {
			b, err := os.ReadFile(filepath.Join(dir, "osci/valid/store-signed-encrypted.responseToFetchDelivery.mime"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		// The list version corrected: the document is valid again.
		"xa.invalid.codelist.wrong-list-version": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`ozg.antragsgrund" listVersionID="3"`), []byte(`ozg.antragsgrund" listVersionID="4"`), 1)
		},
	}
	for id, change := range changes {
		v, ok := m.Vector(id)
		if !ok {
			t.Fatalf("no vector %s", id)
		}
		in := v.Inputs[0]
		p := filepath.Join(dir, filepath.FromSlash(in.Path))
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		changed := change(orig)
		if bytes.Equal(changed, orig) {
			t.Fatalf("%s: change did not apply", id)
		}
		h := HashBytes(in.Path, changed)
		env, err := newVerifyEnv(dir, m, testBundle(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, changed, 0o644); err != nil {
			t.Fatal(err)
		}
		vv := *v
		vv.Inputs = []File{h}
		res := env.verifyVector(context.Background(), &vv)
		if res.Status != report.StatusFail {
			t.Errorf("%s with changed content: %s (got %s) %s", id, res.Status, res.Got, res.Detail)
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Regenerating the vectors from the committed PKI gives the committed
// bytes, manifest included (so also the recorded hash of the on-demand
// large vector), and the large vector, once made, verifies.
func TestRegenerationIsBitForBit(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Path, "pki/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(kitDir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		full := filepath.Join(dir, filepath.FromSlash(f.Path))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Generate(context.Background(), GenerateOptions{Dir: dir, Bundle: testBundle(t), Large: true}); err != nil {
		t.Fatal(err)
	}
	onDemand := map[string]bool{}
	for _, f := range m.Files {
		if f.OnDemand {
			onDemand[f.Path] = true
		}
	}
	if len(onDemand) == 0 {
		t.Fatal("no on-demand vector in the manifest")
	}
	compareTrees(t, kitDir, dir, append([]string{ManifestFile}, "xauslaender", "osci"), onDemand)
	r := verifyKit(t, dir, "osci.valid.store-large-attachment.")
	if len(r.Results) != 1 || r.Results[0].Status != report.StatusPass || len(r.Problems) > 0 {
		t.Fatalf("the made large vector: %+v %v", r.Results, r.Problems)
	}
}

// compareTrees compares the named files and folders of two directories
// byte for byte, in both directions.
func compareTrees(t *testing.T, want, got string, names []string, skip map[string]bool) {
	t.Helper()
	read := func(root string) map[string][]byte {
		out := map[string][]byte{}
		for _, n := range names {
			base := filepath.Join(root, n)
			filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				rel, _ := filepath.Rel(root, p)
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				out[filepath.ToSlash(rel)] = data
				return nil
			})
		}
		return out
	}
	w, g := read(want), read(got)
	if len(w) == 0 {
		t.Fatal("nothing to compare")
	}
	for p, data := range w {
		gd, ok := g[p]
		switch {
		case !ok:
			t.Errorf("%s: not regenerated", p)
		case !bytes.Equal(gd, data):
			t.Errorf("%s: regenerated bytes differ (%d vs %d bytes) — run go generate ./testvectors and review the diff", p, len(gd), len(data))
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok && !skip[p] {
			t.Errorf("%s: generated but not committed", p)
		}
	}
}

// The committed PKI is what `xagw keys testpki --deterministic-seed`
// produces, bit for bit. The 4096-bit deterministic key search takes a
// while, so -short skips it.
func TestPKIRegenerationIsBitForBit(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating the 4096-bit test PKI takes ~15 s")
	}
	pin, err := keystore.PINFromFile(filepath.Join(kitDir, "pki", "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := testpki.Generate(KitPKIOptions(KitSeed, pin))
	if err != nil {
		t.Fatal(err)
	}
	if err := ExtendPKI(p, []byte(KitSeed)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := p.WriteDir(filepath.Join(dir, "pki")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pki", "PIN.txt"), []byte("123456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, kitDir, dir, []string{"pki"}, nil)
}

// The kit's certificates are judged at the reference time; the valid ones
// must also be valid today (conformance runs against real intermediaries
// use them live) and for a while to come.
func TestKitCertificatesLiveLongEnough(t *testing.T) {
	p, err := testpki.Load(filepath.Join(kitDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Now.Equal(ReferenceTime) {
		t.Errorf("PKI reference time %s, kit %s", p.Now, ReferenceTime)
	}
	soon := time.Now().AddDate(1, 0, 0)
	statuses := map[string]int{}
	for _, e := range append([]*testpki.Entity{p.Root, p.IssuingCA}, p.Entities...) {
		statuses[e.Status]++
		if e.Status != testpki.StatusValid && e.Status != testpki.StatusRevoked {
			continue
		}
		if e.Certificate.NotAfter.Before(soon) {
			t.Errorf("%s expires %s, within a year: bump KitSeed and regenerate the kit", e.Name, e.Certificate.NotAfter)
		}
		if e.Certificate.NotAfter.Sub(ReferenceTime) < 5*365*24*time.Hour {
			t.Errorf("%s lives less than five years past the reference time", e.Name)
		}
	}
	for _, s := range []string{testpki.StatusValid, testpki.StatusExpired, testpki.StatusNotYetValid, testpki.StatusRevoked} {
		if statuses[s] == 0 {
			t.Errorf("no %s certificate in the kit PKI", s)
		}
	}
	// Revocation is real: the revoked signer fails the policy as revoked,
	// the plain signer passes, both at the reference time.
	pol := p.Policy()
	if err := pol.Check(p.Entity(RevokedSignerName).Certificate, keystore.UsageSignature); !isKind(err, keystore.ErrRevoked) {
		t.Errorf("revoked signer: %v", err)
	}
	if err := pol.Check(p.Entity("sender-signature").Certificate, keystore.UsageSignature); err != nil {
		t.Errorf("sender signature: %v", err)
	}
	if err := pol.Check(p.Entity("sender-signature-expired").Certificate, keystore.UsageSignature); !isKind(err, keystore.ErrExpired) {
		t.Errorf("expired signer: %v", err)
	}
	// And the PKCS#12 files open with the committed PIN.
	pin, err := keystore.PINFromFile(filepath.Join(kitDir, "pki", "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := keystore.LoadPKCS12File(filepath.Join(kitDir, "pki", "addressee-cipher.p12"), pin)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Certificate.Equal(p.Entity("addressee-cipher").Certificate) {
		t.Error("addressee-cipher.p12 holds another certificate")
	}
}

func isKind(err, kind error) bool { return errors.Is(err, kind) }

// Every OSCI message type (orders and responses) has a valid vector, and
// every storeDelivery variant the issue names is there.
func TestEveryOSCIScenarioHasAVector(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	ids := map[string]bool{}
	for _, v := range m.Vectors {
		if v.Kind == KindOSCI && v.Expect.Outcome == OutcomeAccept {
			have[v.Expect.MessageType] = true
			ids[v.ID] = true
		}
	}
	for _, typ := range []string{"initDialog", "exitDialog", "getMessageId", "storeDelivery", "fetchDelivery", "fetchProcessCard",
		"forwardDelivery", "acceptDelivery", "mediateDelivery", "processDelivery", "partialStoreDelivery", "partialFetchDelivery"} {
		resp := "responseTo" + strings.ToUpper(typ[:1]) + typ[1:]
		for _, x := range []string{typ, resp} {
			if !have[x] {
				t.Errorf("no valid OSCI vector of type %s", x)
			}
		}
	}
	for _, v := range []string{"store-inline", "store-attachments", "store-containers", "store-readers", "store-signed-encrypted",
		"store-ecdsa-p256", "store-rsa2048"} {
		if !ids["osci.valid."+v+".storeDelivery"] || !ids["osci.valid."+v+".responseToFetchDelivery"] {
			t.Errorf("variant %s lacks its storeDelivery or the ABH's responseToFetchDelivery", v)
		}
	}
}

// The OSCI negative vectors cover every defect the issue lists, each
// rejected by the project's own Open with exactly its class.
func TestOSCINegativeVectorsFailWithTheirClass(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	r := verifyKit(t, kitDir, "osci.invalid.")
	got := map[string]report.Result{}
	for _, res := range r.Results {
		got[res.ID] = res
	}
	classes := map[string]int{}
	for _, v := range m.Vectors {
		if v.Kind != KindOSCI || v.Expect.Outcome != OutcomeReject {
			continue
		}
		classes[v.Expect.Class]++
		if res := got[v.ID]; res.Got != "reject/"+v.Expect.Class || res.Status != report.StatusPass {
			t.Errorf("%s: got %q (%s) %s", v.ID, res.Got, res.Status, res.Detail)
		}
	}
	for _, c := range []string{ClassOSCIDigest, ClassOSCIDecrypt, ClassOSCIIVLength, ClassOSCIWrapping, ClassOSCICertExpired,
		ClassOSCICertRevoked, ClassOSCIAlgorithm, ClassOSCIWrongKey} {
		if classes[c] == 0 {
			t.Errorf("no negative OSCI vector of class %s", c)
		}
	}
	for _, id := range []string{"osci.invalid.decrypt.truncated-gcm-tag", "osci.invalid.decrypt.tampered-cipher-text",
		"osci.invalid.wrapping.order-duplicate-id", "osci.invalid.wrapping.order-wrapped-body", "osci.invalid.algorithm.order-sha1-signature"} {
		if _, ok := m.Vector(id); !ok {
			t.Errorf("missing %s", id)
		}
	}
}

// The SHA-1 vector is refused for its algorithm only: with legacy
// algorithms allowed, the very same signature verifies.
func TestSHA1VectorIsOtherwiseCorrect(t *testing.T) {
	m, err := LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := m.Vector("osci.invalid.algorithm.order-sha1-signature")
	if !ok {
		t.Fatal("no SHA-1 vector")
	}
	data, err := os.ReadFile(filepath.Join(kitDir, v.Inputs[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	var soap []byte
	if _, err := rewriteRoot(data, func(b []byte) ([]byte, error) { soap = b; return b, nil }); err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(soap); err != nil {
		t.Fatal(err)
	}
	sig, err := signatureOf(doc)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := loadKitPKI(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	key := pki.cert(entSenderSig).PublicKey
	if _, err := xmldsig.Verify(sig, xmldsig.VerifyOptions{Key: key}); !errors.Is(err, xmldsig.ErrLegacyAlgorithm) {
		t.Fatalf("without legacy algorithms: %v", err)
	}
	res, err := xmldsig.Verify(sig, xmldsig.VerifyOptions{Key: key, AllowLegacy: true})
	if err != nil || !res.SignatureValueOK || len(res.References) < 5 {
		t.Fatalf("with legacy algorithms allowed the SHA-1 signature must verify: %v", err)
	}
	for _, r := range res.References {
		if !r.OK || r.DigestMethod != xmldsig.DigestSHA1 {
			t.Errorf("reference %s: ok=%v digest %s", r.URI, r.OK, r.DigestMethod)
		}
	}
}
