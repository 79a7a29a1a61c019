package intermediary

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procIO returns the bytes and system calls this process has written so far
// (/proc/self/io wchar and syscw): what SQLite writes to its WAL and
// database file, the figure a smaller or differently laid out row changes.
func procIO(b *testing.B) (wchar, syscw int64) {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skip("no /proc/self/io")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "wchar":
			wchar = n
		case "syscw":
			syscw = n
		}
	}
	return wchar, syscw
}

// BenchmarkStoreDelivery is the intermediary's durable work for one
// storeDelivery of BenchmarkDeliveryRoundTrip's size, in a real SQLite file
// (WAL, synchronous=FULL): issuing the message id (its own commit) and
// storing the delivery that consumes it (a second commit) with a 41 KB
// content package, four certificates and the inspections. It reports the
// CPU time, bytes written and write system calls per message, checkpoints
// included (they come every few dozen messages).
func BenchmarkStoreDelivery(b *testing.B) {
	st, err := openStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	content := make([]byte, 41159)
	content = []byte(strings.Repeat("A", len(content))) // base64-like text; SQLite does not compress
	var certs []storedCert
	for i := range 4 {
		der := make([]byte, 760)
		rand.Read(der)
		certs = append(certs, storedCert{Element: "SignatureCertificateOriginator", ID: "c" + strconv.Itoa(i), DER: der})
	}
	insp, _ := json.Marshal([]map[string]string{{"Timestamp": time.Now().Format(time.RFC3339), "X509SubjectName": strings.Repeat("CN=x,", 100)}})
	mailbox, client := strings.Repeat("a", 64), strings.Repeat("b", 64)
	store := func() {
		now := time.Now()
		id, err := st.issueMessageID(ctx(), client, now)
		if err != nil {
			b.Fatal(err)
		}
		d := &delivery{msgID: id, mailbox: mailbox, originator: client, kind: "store", subject: "bench",
			certs: certs, content: content, inspections: bytes.Clone(insp), created: now}
		if err := st.insertDelivery(ctx(), d, true); err != nil {
			b.Fatal(err)
		}
	}
	for range 50 { // a table of some size, statements prepared
		store()
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	w0, s0 := procIO(b)
	for i := 0; i < b.N; i++ {
		store()
	}
	cpu := processCPU() - cpu0
	w1, s1 := procIO(b)
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/msg")
	b.ReportMetric(float64(w1-w0)/1024/n, "KB-written/msg")
	b.ReportMetric(float64(s1-s0)/n, "writes/msg")
}
