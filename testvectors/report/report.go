// Package report holds the outcome of a conformance run — one result per
// vector — and writes it for people (text, one line per vector), for
// programs (JSON) and for CI systems (JUnit XML).
//
// The same report shape serves `xagw conformance verify` (the project
// checked against its own vectors) and `xagw conformance run` (a vendor's
// case system checked against the kit), so a vendor's CI and ours read the
// same format.
package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Status is the outcome of one vector.
type Status string

// Statuses. Only StatusPass counts as conforming; StatusSkip says the vector
// does not apply to the target (and why, in Detail), StatusError that the
// check itself could not be carried out (for example the target did not
// answer), which is never a pass.
const (
	StatusPass  Status = "pass"
	StatusFail  Status = "fail"
	StatusError Status = "error"
	StatusSkip  Status = "skip"
)

// Result is the outcome of one vector.
type Result struct {
	// ID is the vector id from the manifest.
	ID string `json:"id"`
	// Kind groups results: "xauslaender", "osci", "vendor-reply", ….
	Kind   string `json:"kind"`
	Status Status `json:"status"`
	// Expected and Got are short, comparable descriptions of the outcome,
	// e.g. "reject/schema" and "accept".
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
	// Detail explains a failure, error or skip: what differs and where.
	// It never contains message content or personal data.
	Detail string `json:"detail,omitempty"`
	// Duration is the time the vector took.
	Duration time.Duration `json:"durationNs"`
}

// Report is the outcome of a whole run.
type Report struct {
	// Suite names the run, e.g. "xagw conformance verify".
	Suite string `json:"suite"`
	// Target names what was checked: the kit directory, or the vendor's
	// intermediary URL and mailbox.
	Target  string    `json:"target,omitempty"`
	Started time.Time `json:"started"`
	// Duration is the wall time of the whole run.
	Duration time.Duration `json:"durationNs"`
	// Problems are failures outside any single vector (for example a
	// manifest file whose hash does not match); each makes the run fail.
	Problems []string `json:"problems,omitempty"`
	Results  []Result `json:"results"`
}

// Add appends a result.
func (r *Report) Add(res Result) { r.Results = append(r.Results, res) }

// Counts tallies the results by status.
type Counts struct {
	Total, Pass, Fail, Error, Skip int
}

// Counts returns the tally.
func (r *Report) Counts() Counts {
	c := Counts{Total: len(r.Results)}
	for _, res := range r.Results {
		switch res.Status {
		case StatusPass:
			c.Pass++
		case StatusFail:
			c.Fail++
		case StatusSkip:
			c.Skip++
		default: // StatusError and anything unknown: never a pass
			c.Error++
		}
	}
	return c
}

// OK reports whether the run conforms: no problems, no failures, no errors,
// and at least one vector passed (an empty run proves nothing).
func (r *Report) OK() bool {
	c := r.Counts()
	return len(r.Problems) == 0 && c.Fail == 0 && c.Error == 0 && c.Pass > 0
}

// Sort orders the results by kind, then id, so reports compare across runs.
func (r *Report) Sort() {
	sort.SliceStable(r.Results, func(i, j int) bool {
		if r.Results[i].Kind != r.Results[j].Kind {
			return r.Results[i].Kind < r.Results[j].Kind
		}
		return r.Results[i].ID < r.Results[j].ID
	})
}

// WriteText writes one line per vector and a summary:
//
//	PASS  xa.valid.130101.antrag-erwerbstaetigkeit  accept
//	FAIL  xa.invalid.codelist.unknown-code  expected reject/codelist, got accept
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", r.Suite)
	if r.Target != "" {
		fmt.Fprintf(&b, " — %s", r.Target)
	}
	b.WriteString("\n")
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.ID))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "PROBLEM  %s\n", oneLine(p))
	}
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-5s  %-*s  ", strings.ToUpper(string(res.Status)), width, res.ID)
		switch res.Status {
		case StatusPass:
			b.WriteString(res.Got)
		case StatusSkip:
			b.WriteString(oneLine(res.Detail))
		default:
			if res.Expected != "" || res.Got != "" {
				fmt.Fprintf(&b, "expected %s, got %s", orDash(res.Expected), orDash(res.Got))
				if res.Detail != "" {
					b.WriteString(": ")
				}
			}
			b.WriteString(oneLine(res.Detail))
		}
		b.WriteString("\n")
	}
	c := r.Counts()
	verdict := "CONFORMS"
	if !r.OK() {
		verdict = "DOES NOT CONFORM"
	}
	fmt.Fprintf(&b, "%d vectors: %d passed, %d failed, %d errors, %d skipped", c.Total, c.Pass, c.Fail, c.Error, c.Skip)
	if len(r.Problems) > 0 {
		fmt.Fprintf(&b, ", %d problems", len(r.Problems))
	}
	fmt.Fprintf(&b, " — %s (%s)\n", verdict, r.Duration.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a detail on its line: the text report is one line per vector.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// jsonReport adds the tally and the verdict to the JSON form.
type jsonReport struct {
	*Report
	Counts Counts `json:"counts"`
	OK     bool   `json:"ok"`
}

// WriteJSON writes the report as one indented JSON object with the results,
// the tally ("counts") and the verdict ("ok").
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{Report: r, Counts: r.Counts(), OK: r.OK()})
}

// JUnit XML, in the form Jenkins, GitLab and GitHub test reporters read:
// one <testsuite> per kind, one <testcase> per vector.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML. Problems outside any vector
// become failed test cases of a "kit" suite, so a CI system that only counts
// failures still sees them.
func WriteJUnit(w io.Writer, r *Report) error {
	byKind := map[string]*junitSuite{}
	var kinds []string
	suite := func(kind string) *junitSuite {
		s := byKind[kind]
		if s == nil {
			s = &junitSuite{Name: "xagw-conformance." + kind}
			if !r.Started.IsZero() {
				s.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
			}
			byKind[kind] = s
			kinds = append(kinds, kind)
		}
		return s
	}
	var dur = map[string]time.Duration{}
	for i, p := range r.Problems {
		s := suite("kit")
		s.Tests++
		s.Failures++
		s.Cases = append(s.Cases, junitTestCase{Name: fmt.Sprintf("problem-%d", i+1), Classname: "xagw.conformance.kit", Time: "0.000",
			Failure: &junitProblem{Message: oneLine(p), Type: "problem", Text: p}})
	}
	for _, res := range r.Results {
		kind := res.Kind
		if kind == "" {
			kind = "other"
		}
		s := suite(kind)
		s.Tests++
		dur[kind] += res.Duration
		tc := junitTestCase{Name: res.ID, Classname: "xagw.conformance." + kind, Time: seconds(res.Duration)}
		msg := oneLine(res.Detail)
		if res.Expected != "" || res.Got != "" {
			msg = strings.TrimSuffix(fmt.Sprintf("expected %s, got %s: %s", orDash(res.Expected), orDash(res.Got), msg), ": ")
		}
		switch res.Status {
		case StatusPass:
			tc.SystemOut = res.Got
		case StatusFail:
			s.Failures++
			tc.Failure = &junitProblem{Message: msg, Type: "nonconformance", Text: res.Detail}
		case StatusSkip:
			s.Skipped++
			tc.Skipped = &junitProblem{Message: msg}
		default:
			s.Errors++
			tc.Error = &junitProblem{Message: msg, Type: "error", Text: res.Detail}
		}
		s.Cases = append(s.Cases, tc)
	}
	out := junitSuites{Name: r.Suite, Time: seconds(r.Duration)}
	sort.Strings(kinds)
	for _, k := range kinds {
		s := byKind[k]
		s.Time = seconds(dur[k])
		if r.Target != "" {
			s.Properties = &junitProps{Props: []junitProp{{Name: "target", Value: r.Target}}}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, *s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
