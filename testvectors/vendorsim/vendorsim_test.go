package vendorsim

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/testvectors"
	"github.com/xagw/xagw/testvectors/report"
)

const kitDir = ".."

var (
	bundleOnce sync.Once
	bundle     *schemas.Bundle
	bundleErr  error
)

func testBundle(t *testing.T) *schemas.Bundle {
	bundleOnce.Do(func() { bundle, bundleErr = schemas.OpenDefault() })
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundle
}

// runAgainst runs the kit, through the kit's test intermediary on a
// loopback listener, against a simulated case system.
func runAgainst(t *testing.T, b Behaviour, only ...string) *report.Report {
	t.Helper()
	signer, cipher, policy, err := Kit(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := testvectors.Run(ctx, testvectors.RunOptions{
		Dir: kitDir, Bundle: testBundle(t), VendorCipher: cipher.Certificate,
		Wait: 3 * time.Minute, Poll: 250 * time.Millisecond, Settle: 2 * time.Second,
		Only: only,
		StartVendor: func(ctx context.Context, target testvectors.Target) error {
			return Run(ctx, Config{Target: target, Signer: signer, Cipher: cipher, Policy: policy, Bundle: testBundle(t),
				Behaviour: b, Poll: 250 * time.Millisecond, SpoolDir: t.TempDir()})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Target, "http://127.0.0.1:") {
		t.Fatalf("target %q is not a loopback listener", r.Target)
	}
	return r
}

func results(r *report.Report) map[string]report.Result {
	out := map[string]report.Result{}
	for _, res := range r.Results {
		out[res.ID] = res
	}
	return out
}

// A well-behaved case system conforms: every delivered vector passes —
// valid messages answered, invalid ones rejected with a Rückweisung,
// defective OSCI content refused — and nothing else is reported.
func TestWellBehavedVendorConforms(t *testing.T) {
	r := runAgainst(t, WellBehaved)
	m, err := testvectors.LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	got := results(r)
	delivered := 0
	for _, v := range m.Vectors {
		res, ok := got[v.ID]
		if !ok {
			t.Errorf("%s: no result line", v.ID)
			continue
		}
		if v.Vendor == nil {
			if res.Status != report.StatusSkip {
				t.Errorf("%s is not for case systems but has status %s", v.ID, res.Status)
			}
			continue
		}
		if res.Status == report.StatusSkip {
			continue // a defect that only holds at the reference time
		}
		delivered++
		if res.Status != report.StatusPass {
			t.Errorf("%s: %s: expected %s, got %s: %s", v.ID, res.Status, res.Expected, res.Got, res.Detail)
		}
		switch v.Vendor.Reply {
		case testvectors.ReplyPositive:
			if !strings.HasPrefix(res.Got, "reply 1301") {
				t.Errorf("%s: positive reply expected, got %q", v.ID, res.Got)
			}
		case testvectors.ReplyRejection:
			if res.Got != "reply 0010" {
				t.Errorf("%s: Rückweisung expected, got %q", v.ID, res.Got)
			}
		}
	}
	if delivered < 40 {
		t.Errorf("only %d vectors delivered", delivered)
	}
	if len(r.Problems) > 0 || !r.OK() {
		t.Errorf("problems: %v", r.Problems)
	}
}

// A misbehaving case system is caught: it accepts invalid messages,
// replies unsigned and links an answer to the wrong message — each shows
// up as a failure naming the vector and the reason, and in JUnit.
func TestMisbehavingVendorIsCaught(t *testing.T) {
	r := runAgainst(t, Misbehaving, "xa.invalid.schema.wrong-date-format", "xa.invalid.header.nachrichtentyp-mismatch",
		"xa.valid.130101.antrag-familiennachzug", "xa.valid.130111.ruecknahme", "osci.invalid.decrypt.tampered-cipher-text")
	got := results(r)
	want := map[string]string{
		"xa.invalid.schema.wrong-date-format":       "an invalid message (schema) was accepted",
		"xa.invalid.header.nachrichtentyp-mismatch": "an invalid message (header) was accepted",
		"xa.valid.130101.antrag-familiennachzug":    "is not signed",
	}
	for id, text := range want {
		res := got[id]
		if res.Status != report.StatusFail || !strings.Contains(res.Detail, text) {
			t.Errorf("%s: %s %q, want a failure saying %q", id, res.Status, res.Detail, text)
		}
	}
	// Content that cannot be decrypted is not answered, even by this one.
	if res := got["osci.invalid.decrypt.tampered-cipher-text"]; res.Status != report.StatusPass {
		t.Errorf("tampered cipher text: %s %s", res.Status, res.Detail)
	}
	linked := false
	for _, p := range r.Problems {
		linked = linked || strings.Contains(p, "which the kit did not send in this run")
	}
	if !linked {
		t.Errorf("the answer to the Rücknahme with a wrong ausloeserUUID is not reported: %v", r.Problems)
	}
	if r.OK() {
		t.Fatal("a misbehaving case system conforms")
	}

	var b bytes.Buffer
	if err := report.WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	c := r.Counts()
	if doc.Tests != c.Total+len(r.Problems) || doc.Failures != c.Fail+len(r.Problems) || doc.Errors != c.Error || doc.Skipped != c.Skip {
		t.Fatalf("JUnit %+v, report %+v with %d problems", doc, c, len(r.Problems))
	}
}
