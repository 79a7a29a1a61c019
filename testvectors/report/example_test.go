package report_test

import (
	"os"
	"time"

	"github.com/xagw/xagw/testvectors/report"
)

// A report prints one line per vector and a verdict.
func ExampleWriteText() {
	r := &report.Report{Suite: "xagw conformance run", Target: "http://127.0.0.1:8080/osci", Duration: 42 * time.Second}
	r.Add(report.Result{ID: "xa.valid.130101.antrag-familiennachzug", Kind: "xauslaender", Status: report.StatusPass, Expected: "reply positive", Got: "reply 130104"})
	r.Add(report.Result{ID: "xa.invalid.schema.wrong-date-format", Kind: "xauslaender", Status: report.StatusFail,
		Expected: "reply rejection", Got: "reply 130104", Detail: "an invalid message (schema) was accepted"})
	report.WriteText(os.Stdout, r)
	// Output:
	// xagw conformance run — http://127.0.0.1:8080/osci
	// PASS   xa.valid.130101.antrag-familiennachzug  reply 130104
	// FAIL   xa.invalid.schema.wrong-date-format     expected reply rejection, got reply 130104: an invalid message (schema) was accepted
	// 2 vectors: 1 passed, 1 failed, 0 errors, 0 skipped — DOES NOT CONFORM (42s)
}
