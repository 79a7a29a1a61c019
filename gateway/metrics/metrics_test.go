package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTextExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("xagw_attempts_total", "Delivery attempts.", "step")
	c.Inc("send")
	c.Add(2, "send")
	c.Inc(`ro"ute`)
	plain := r.NewCounter("xagw_plain_total", "No labels.")
	_ = plain
	r.NewGaugeFunc("xagw_queue_depth", "Messages per state.", []string{"state"}, func(context.Context) ([]Sample, error) {
		return []Sample{{Labels: []string{"sending"}, Value: 2}, {Labels: []string{"accepted"}, Value: 5}}, nil
	})
	h := r.NewHistogram("xagw_latency_seconds", "Latency.", []float64{0.1, 1}, "op")
	h.Observe(0.05, "x")
	h.Observe(0.1, "x") // on the bound: counts in le="0.1"
	h.Observe(3, "x")

	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Fatalf("content type %q", ct)
	}
	want := `# HELP xagw_attempts_total Delivery attempts.
# TYPE xagw_attempts_total counter
xagw_attempts_total{step="ro\"ute"} 1
xagw_attempts_total{step="send"} 3
# HELP xagw_plain_total No labels.
# TYPE xagw_plain_total counter
xagw_plain_total 0
# HELP xagw_queue_depth Messages per state.
# TYPE xagw_queue_depth gauge
xagw_queue_depth{state="accepted"} 5
xagw_queue_depth{state="sending"} 2
# HELP xagw_latency_seconds Latency.
# TYPE xagw_latency_seconds histogram
xagw_latency_seconds_bucket{op="x",le="0.1"} 2
xagw_latency_seconds_bucket{op="x",le="1"} 2
xagw_latency_seconds_bucket{op="x",le="+Inf"} 3
xagw_latency_seconds_sum{op="x"} 3.15
xagw_latency_seconds_count{op="x"} 3
`
	if string(body) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", body, want)
	}
}

func TestFailingGaugeFailsScrape(t *testing.T) {
	r := NewRegistry()
	r.NewGaugeFunc("g", "h", nil, func(context.Context) ([]Sample, error) { return nil, errors.New("db down") })
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "db down") {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}

func TestDuplicateAndInvalidNamesPanic(t *testing.T) {
	for _, f := range []func(r *Registry){
		func(r *Registry) { r.NewCounter("a", ""); r.NewCounter("a", "") },
		func(r *Registry) { r.NewCounter("1a", "") },
		func(r *Registry) { r.NewCounter("a", "", "l").Inc() },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(NewRegistry())
		}()
	}
}
