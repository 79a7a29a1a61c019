package testvectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/testvectors/report"
)

// VerifyOptions control Verify.
type VerifyOptions struct {
	// Dir is the kit directory (with manifest.json).
	Dir string
	// Bundle is the schema bundle XAusländer vectors are validated with.
	Bundle *schemas.Bundle
	// Only, when set, restricts the run to vectors whose id starts with
	// one of these prefixes.
	Only []string
}

// Verify checks the project against the kit: every file's SHA-256 against
// the manifest (a changed, missing or unlisted file is a problem that fails
// the run), then every vector through the project's own readers — the
// XAusländer validator with the header rules, osci.Open for envelopes —
// comparing the outcome with the expected one, including that a negative
// vector fails with its expected error class.
func Verify(ctx context.Context, o VerifyOptions) (*report.Report, error) {
	start := time.Now()
	m, err := LoadManifest(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.Bundle == nil {
		return nil, errors.New("testvectors: Verify needs a schema bundle")
	}
	r := &report.Report{Suite: "xagw conformance verify", Target: o.Dir, Started: start}
	for _, p := range m.CheckFiles(o.Dir, true) {
		r.Problems = append(r.Problems, "file "+p.String())
	}
	env, err := newVerifyEnv(o.Dir, m, o.Bundle)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	var selected []*Vector
	for i := range m.Vectors {
		if selectedID(m.Vectors[i].ID, o.Only) {
			selected = append(selected, &m.Vectors[i])
		}
	}
	results := make([]report.Result, len(selected))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = env.verifyVector(ctx, selected[i])
			}
		}()
	}
	for i := range selected {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.Results = results
	r.Sort()
	r.Duration = time.Since(start)
	return r, nil
}

func selectedID(id string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, p := range only {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// verifyEnv is what checking vectors needs, set up once per run.
type verifyEnv struct {
	dir      string
	manifest *Manifest
	xa       *XAChecker
	osci     *osciEnv // nil when the kit's PKI could not be loaded
	osciErr  error
}

func newVerifyEnv(dir string, m *Manifest, b *schemas.Bundle) (*verifyEnv, error) {
	env := &verifyEnv{dir: dir, manifest: m, xa: NewXAChecker(b)}
	env.osci, env.osciErr = newOSCIEnv(dir, m)
	if env.osciErr != nil {
		return env, fmt.Errorf("OSCI key material: %w", env.osciErr)
	}
	return env, nil
}

// readInput reads an input file of the kit; a file whose hash differs from
// the manifest is refused, so a vector is never judged on other bytes than
// the ones it describes.
func (env *verifyEnv) readInput(in File) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(env.dir, filepath.FromSlash(in.Path)))
	if err != nil {
		return nil, err
	}
	if got := HashBytes(in.Path, data); got != in {
		return nil, fmt.Errorf("%s: content differs from the manifest (sha256 %s, manifest %s)", in.Path, got.SHA256, in.SHA256)
	}
	return data, nil
}

func (env *verifyEnv) verifyVector(ctx context.Context, v *Vector) report.Result {
	start := time.Now()
	res := report.Result{ID: v.ID, Kind: v.Kind, Expected: expectString(v.Expect)}
	var got string
	var detail string
	var err error
	switch v.Kind {
	case KindXAuslaender:
		got, detail, err = env.verifyXA(v)
	case KindOSCI:
		if env.osci == nil {
			err = fmt.Errorf("OSCI key material not available: %v", env.osciErr)
		} else {
			got, detail, err = env.osci.verify(ctx, env, v)
		}
	default:
		err = fmt.Errorf("unknown kind %q", v.Kind)
	}
	res.Duration = time.Since(start)
	res.Got = got
	var skip errSkip
	switch {
	case errors.As(err, &skip):
		res.Status = report.StatusSkip
		res.Detail = skip.why
	case err != nil:
		res.Status = report.StatusError
		res.Detail = err.Error()
	case detail != "":
		res.Status = report.StatusFail
		res.Detail = detail
	default:
		res.Status = report.StatusPass
	}
	return res
}

// expectString is the short form of an expectation: "accept",
// "reject/schema".
func expectString(e Expect) string {
	if e.Outcome == OutcomeReject {
		return OutcomeReject + "/" + e.Class
	}
	return e.Outcome
}

// verifyXA checks an XAusländer vector; a non-empty detail is a mismatch.
func (env *verifyEnv) verifyXA(v *Vector) (got, detail string, err error) {
	if len(v.Inputs) != 1 {
		return "", "", fmt.Errorf("an XAusländer vector has exactly one input, this one %d", len(v.Inputs))
	}
	data, err := env.readInput(v.Inputs[0])
	if err != nil {
		return "", "", err
	}
	r := env.xa.Check(data)
	return CompareXA(v.Expect, r)
}

// CompareXA compares a checked document with an expectation. got is the
// short outcome ("accept", "reject/header"); detail is empty when the
// outcome matches and otherwise says what differs.
func CompareXA(e Expect, r *XAResult) (got, detail string, err error) {
	if r.Class == ClassInternal {
		return "reject/internal", "", fmt.Errorf("the checker failed: %s", firstOf(r.Findings, ClassInternal))
	}
	if r.Valid() {
		got = OutcomeAccept
	} else {
		got = OutcomeReject + "/" + r.Class
	}
	var diffs []string
	switch e.Outcome {
	case OutcomeAccept:
		if !r.Valid() {
			diffs = append(diffs, firstOf(r.Findings, r.Class))
		}
	case OutcomeReject:
		if r.Valid() {
			diffs = append(diffs, "the document was accepted")
		} else if r.Class != e.Class {
			diffs = append(diffs, firstOf(r.Findings, r.Class))
		} else if e.Path != "" && !pathFound(r.Findings, e.Class, e.Path) {
			diffs = append(diffs, fmt.Sprintf("no %s finding names %s (found: %s)", e.Class, e.Path, firstOf(r.Findings, e.Class)))
		}
	}
	if e.MessageType != "" && r.Header.MessageType != e.MessageType && e.Outcome == OutcomeAccept {
		diffs = append(diffs, fmt.Sprintf("nachrichtentyp %q, expected %q", r.Header.MessageType, e.MessageType))
	}
	if e.NachrichtenUUID != "" && r.Header.NachrichtenUUID != e.NachrichtenUUID {
		diffs = append(diffs, fmt.Sprintf("nachrichtenUUID %q, expected %q", r.Header.NachrichtenUUID, e.NachrichtenUUID))
	}
	return got, strings.Join(diffs, "; "), nil
}

func pathFound(fs []Finding, class, p string) bool {
	for _, f := range fs {
		if f.Class == class && strings.Contains(f.Path, p) {
			return true
		}
	}
	return false
}

func firstOf(fs []Finding, class string) string {
	for _, f := range fs {
		if f.Class == class {
			return f.String()
		}
	}
	return class
}
