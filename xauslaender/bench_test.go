package xauslaender_test

import (
	"github.com/xagw/xagw/internal/safexml"
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// BenchmarkValidateAntrag validates the realistic ~21 KB employment
// application (safexml checks, XSD, code lists, strict base64, non-empty
// text, header rules) on one goroutine. Run with -cpu 1; cpu-ns/op is the
// primary figure (CPU time of the process per validation, robust against
// other work on the machine), validations/s/core = 1e9 / cpu-ns/op.
func BenchmarkValidateAntrag(b *testing.B) {
	data := sampleXML(b, "antrag-erwerbstaetigkeit")
	v := xauslaender.NewValidator(testBundle(b))
	if r := v.Validate(data); !r.Valid {
		b.Fatal(r.Problems)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu := startCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := v.Validate(data); !r.Valid {
			b.Fatal("invalid")
		}
	}
	b.StopTimer()
	cpu.report(b, "validations")
}

// BenchmarkValidateAndParseAntrag is the gateway's accept path for the
// same application: validation (as BenchmarkValidateAntrag) and the typed
// message with its header, built from the tokens of the same libxml2 pass.
func BenchmarkValidateAndParseAntrag(b *testing.B) {
	data := sampleXML(b, "antrag-erwerbstaetigkeit")
	v := xauslaender.NewValidator(testBundle(b))
	if r, m, err := v.ValidateAndParse(data); !r.Valid || err != nil || !m.Typed() {
		b.Fatal(r.Problems, err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu := startCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r, m, err := v.ValidateAndParse(data); !r.Valid || err != nil || m.Body == nil {
			b.Fatal("invalid")
		}
	}
	b.StopTimer()
	cpu.report(b, "messages")
}

// cpuClock measures the CPU time the process spends (all threads, user and
// system), so per-core figures hold even on a machine shared with other
// work, where wall time per operation is inflated.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: cpuNow()} }

// report adds cpu-ns/op and <what>/s-per-core (1e9 / cpu-ns/op).
func (c cpuClock) report(b *testing.B, what string) {
	per := float64(cpuNow()-c.start) / float64(b.N)
	b.ReportMetric(per, "cpu-ns/op")
	b.ReportMetric(1e9/per, what+"/s/core")
}

// BenchmarkValidateAntragParallel runs the same validation from
// GOMAXPROCS goroutines against one compiled schema (scaling across cores).
func BenchmarkValidateAntragParallel(b *testing.B) {
	data := sampleXML(b, "antrag-erwerbstaetigkeit")
	v := xauslaender.NewValidator(testBundle(b))
	v.Validate(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := v.Validate(data); !r.Valid {
				b.Error("invalid")
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
	cpu.report(b, "validations")
}

// BenchmarkParseAntrag parses the application into its typed model.
func BenchmarkParseAntrag(b *testing.B) {
	data := sampleXML(b, "antrag-erwerbstaetigkeit")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := xauslaender.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildAntrag is the form-backend path without validation: JSON
// content → typed message → frame (Sender.Prepare) → XML.
func BenchmarkBuildAntrag(b *testing.B) {
	bu := testBundle(b)
	s, _ := samples.Lookup("antrag-erwerbstaetigkeit")
	js, err := xauslaender.MarshalJSON(s.Content())
	if err != nil {
		b.Fatal(err)
	}
	dir, _ := xauslaender.NewABHDirectory(bu)
	leser, _ := dir.Leser(samples.ABHKey)
	sender := samples.EVSender(bu)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, err := xauslaender.FromJSON("130101", "", js)
		if err != nil {
			b.Fatal(err)
		}
		if err := sender.Prepare(m, leser); err != nil {
			b.Fatal(err)
		}
		if _, err := xauslaender.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSafexmlCheckAntrag measures the safexml.Check pass alone (limits,
// DTD refusal, well-formedness in Go) that every validation runs before
// libxml2 sees the bytes: the rest of BenchmarkValidateAntrag is libxml2
// and the model's checks.
func BenchmarkSafexmlCheckAntrag(b *testing.B) {
	data := sampleXML(b, "antrag-erwerbstaetigkeit")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu := startCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := safexml.Check(data, xauslaender.Limits); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu.report(b, "checks")
}
