package schemas

import (
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/schemas/internal/libxml"
)

// BenchmarkCompile26_11 measures compiling the whole XAusländer 26.11 schema
// set (19 included files plus the XInneres, XÖV and xdomea imports, 38
// documents) with libxml2 through the bundle's catalog resolver.
func BenchmarkCompile26_11(b *testing.B) {
	bu := testBundle(b)
	root, _ := bu.Root(nsXA)
	b.ReportAllocs()
	start := cpuNow()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, err := libxml.Compile(root.Path, bu.Resolve)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		x.Free() // freeing is not part of compiling
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuNow()-start)/float64(b.N)/1e6, "cpu-ms/op(incl.free)")
}

// cpuNow is the CPU time of the process (all threads, user and system):
// per-operation CPU time stays meaningful on a machine shared with other
// work, where wall time per operation is inflated.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOpenBundle measures indexing a bundle (schema heads and code lists).
func BenchmarkOpenBundle(b *testing.B) {
	dir := sharedpath.MustFind("xrepository")
	for i := 0; i < b.N; i++ {
		if _, err := Open(dir, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateSmall validates a 1.9 KB message (XSD and code lists);
// the realistic 20 KB application is benchmarked in package xauslaender.
func BenchmarkValidateSmall(b *testing.B) {
	bu := testBundle(b)
	data := readTestdata(b, "ruecknahme.xml")
	if r := bu.Validate(data, ValidateOptions{}); !r.Valid {
		b.Fatal(r.Problems)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bu.Validate(data, ValidateOptions{})
		}
	})
}

// BenchmarkLibxmlLayerAntrag is a breakdown benchmark: the libxml2 layer
// alone (parse, XSD validation, the walk collecting codes) on the 21.7 KB
// employment application, without the safexml.Check pass and the Go glue
// that Bundle.Validate adds. Compare with xauslaender's
// BenchmarkValidateAntrag and BenchmarkSafexmlCheckAntrag.
func BenchmarkLibxmlLayerAntrag(b *testing.B) {
	data := readTestdata(b, "antrag-erwerbstaetigkeit.xml")
	s, err := testBundle(b).Schema(nsXA)
	if err != nil {
		b.Fatal(err)
	}
	if out := s.x.Validate(data, &libxml.Request{Codes: true}, nil); out.Status != 0 {
		b.Fatalf("%+v", out.Diags)
	}
	b.SetBytes(int64(len(data)))
	start := cpuNow()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.x.Validate(data, &libxml.Request{Codes: true}, nil)
	}
	b.StopTimer()
	per := float64(cpuNow()-start) / float64(b.N)
	b.ReportMetric(per, "cpu-ns/op")
	b.ReportMetric(1e9/per, "validations/s/core")
}
