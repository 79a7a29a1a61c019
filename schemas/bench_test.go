package schemas

import (
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
)

// BenchmarkCompile26_11 measures compiling the whole XAusländer 26.11 schema
// set (19 included files plus the XInneres, XÖV and xdomea imports).
func BenchmarkCompile26_11(b *testing.B) {
	dir := sharedpath.MustFind("xrepository")
	for i := 0; i < b.N; i++ {
		bu, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := bu.Schema(nsXA)
		if err != nil {
			b.Fatal(err)
		}
		s.x.Free()
	}
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
