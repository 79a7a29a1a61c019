package testvectors

import (
	"context"
	"os"
	"testing"
)

// BenchmarkVerifyXAuslaender verifies every XAusländer vector of the kit
// (validation, header rules, classification); the metric is vectors/s.
func BenchmarkVerifyXAuslaender(b *testing.B) { benchVerify(b, "xa.") }

// BenchmarkVerifyOSCI opens every committed OSCI vector with its keys at
// the reference time (transport and content decryption, every signature
// and reference, certificate policy), once per reader key.
func BenchmarkVerifyOSCI(b *testing.B) { benchVerify(b, "osci.") }

func benchVerify(b *testing.B, prefix string) {
	bundle := testBundle(b)
	n := 0
	for b.Loop() {
		r, err := Verify(context.Background(), VerifyOptions{Dir: kitDir, Bundle: bundle, Only: []string{prefix}})
		if err != nil {
			b.Fatal(err)
		}
		if c := r.Counts(); c.Fail+c.Error > 0 {
			b.Fatalf("%+v", c)
		}
		n = len(r.Results)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "vectors/s")
}

// BenchmarkXACheck classifies the largest application of the kit (21 KB).
func BenchmarkXACheck(b *testing.B) {
	data, err := os.ReadFile(docAntragLarge)
	if err != nil {
		b.Fatal(err)
	}
	c := NewXAChecker(testBundle(b))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if r := c.Check(data); !r.Valid() {
			b.Fatal(r.Findings)
		}
	}
}
