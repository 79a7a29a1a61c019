package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway/api"
	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/samples"
)

var (
	benchOnce   sync.Once
	benchBundle *schemas.Bundle
	benchBody   []byte
	benchErr    error
)

// acceptServer is the API with the real XAusländer codec (XSD + code-list
// validation) on a real store, served over loopback.
func acceptServer(b testing.TB, s *store.Store) *httptest.Server {
	benchOnce.Do(func() {
		if benchBundle, benchErr = schemas.OpenDefault(); benchErr != nil {
			return
		}
		smp, _ := samples.Lookup("antrag-erwerbstaetigkeit")
		benchBody, benchErr = smp.XML(benchBundle)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	codec, err := xacodec.New(benchBundle, nil)
	if err != nil {
		b.Fatal(err)
	}
	o, err := outbox.New(outbox.Config{Store: s, Keys: gatewaytest.Keyring(b), Codec: codec})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SyncClients(context.Background(), []store.Client{{ID: "a", TokenSHA256: config.TokenHash(tokenA)}}, time.Now()); err != nil {
		b.Fatal(err)
	}
	auth, _ := api.LoadAuth(context.Background(), s)
	srv, err := api.New(api.Config{Store: s, Outbox: o, Auth: auth})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	return hs
}

func benchStores(b *testing.B, fn func(b *testing.B, s *store.Store)) {
	for _, name := range gatewaytest.BenchStoreKinds {
		b.Run(name, func(b *testing.B) {
			s := gatewaytest.OpenBenchStore(b, name)
			fn(b, s)
		})
	}
}

func postOnce(b *testing.B, c *http.Client, url string, body []byte) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	req.Header.Set("Content-Type", "application/xml")
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		b.Fatalf("status %d", res.StatusCode)
	}
}

// BenchmarkAcceptLatency posts the ~20 KB sample OZG.Antrag one request at
// a time over loopback HTTP: validation, sealing and the durable insert.
// It reports the p50 and p99 latency of a single accept.
func BenchmarkAcceptLatency(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		hs := acceptServer(b, s)
		c := hs.Client()
		postOnce(b, c, hs.URL+"/v1/messages", benchBody) // warm up: schema compile, connections
		lat := make([]time.Duration, 0, b.N)
		b.SetBytes(int64(len(benchBody)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t := time.Now()
			postOnce(b, c, hs.URL+"/v1/messages", benchBody)
			lat = append(lat, time.Since(t))
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	})
}

// BenchmarkAcceptThroughput posts with 8 concurrent clients and reports
// accepted messages per second.
func BenchmarkAcceptThroughput(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		hs := acceptServer(b, s)
		url := hs.URL + "/v1/messages"
		postOnce(b, hs.Client(), url, benchBody)
		b.SetParallelism(4) // ×GOMAXPROCS(2) = 8 clients
		start := time.Now()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			c := hs.Client()
			for pb.Next() {
				postOnce(b, c, url, benchBody)
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "accepts/s")
	})
}

func ExampleTenants_ByPLZ() {
	t := api.NewTenants([]api.Tenant{{ABH: "000100", Name: "STV Aalen", PostalCodes: []string{"73430", "73431"}}})
	for _, x := range t.ByPLZ("73430") {
		fmt.Println(x.ABH, x.Name)
	}
	// Output: 000100 STV Aalen
}
