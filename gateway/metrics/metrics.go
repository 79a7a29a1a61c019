// Package metrics is a small Prometheus registry: counters, gauges computed
// at scrape time and histograms, with labels, written in the Prometheus text
// exposition format (version 0.0.4).
//
// The gateway needs a dozen series; writing the text format directly keeps
// the Prometheus client library and its dependency tree out of the module.
package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ContentType is the exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Registry holds metric families in registration order.
type Registry struct {
	mu       sync.Mutex
	families []family
	names    map[string]bool
}

type family interface {
	write(ctx context.Context, w *bufio.Writer) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

func (r *Registry) add(name string, f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic("metrics: duplicate metric " + name)
	}
	if !validName(name) {
		panic("metrics: invalid metric name " + name)
	}
	r.names[name] = true
	r.families = append(r.families, f)
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// WriteTo writes every family in the text format. Gauge functions get ctx
// (they may query the database).
func (r *Registry) Write(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	fams := append([]family(nil), r.families...)
	r.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		if err := f.write(ctx, bw); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Handler serves the registry for Prometheus scrapes.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var sb strings.Builder
		if err := r.Write(req.Context(), &sb); err != nil {
			http.Error(w, "metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		io.WriteString(w, sb.String())
	})
}

func header(w *bufio.Writer, name, help, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

func labelString(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, n, escapeLabel(values[i]))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, extra[i], escapeLabel(extra[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// CounterVec is a counter family with labels.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	series     map[string]*counterSeries
}

type counterSeries struct {
	values []string
	v      atomic.Uint64 // float64 bits
}

// NewCounter registers a counter family; labels may be empty.
func (r *Registry) NewCounter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{name: name, help: help, labels: labels, series: map[string]*counterSeries{}}
	r.add(name, c)
	return c
}

func (c *CounterVec) get(values []string) *counterSeries {
	if len(values) != len(c.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", c.name, len(c.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.series[key]
	if !ok {
		s = &counterSeries{values: append([]string(nil), values...)}
		c.series[key] = s
	}
	return s
}

// Add adds v (≥ 0) to the series with the given label values.
func (c *CounterVec) Add(v float64, values ...string) {
	if v < 0 {
		panic("metrics: counter decreased")
	}
	s := c.get(values)
	for {
		old := s.v.Load()
		if s.v.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Inc adds 1.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

// Value returns the current value of one series (for tests).
func (c *CounterVec) Value(values ...string) float64 {
	return math.Float64frombits(c.get(values).v.Load())
}

func (c *CounterVec) write(_ context.Context, w *bufio.Writer) error {
	header(w, c.name, c.help, "counter")
	c.mu.Lock()
	keys := make([]string, 0, len(c.series))
	for k := range c.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := c.series[k]
		fmt.Fprintf(w, "%s%s %s\n", c.name, labelString(c.labels, s.values), formatFloat(math.Float64frombits(s.v.Load())))
	}
	c.mu.Unlock()
	if len(c.labels) == 0 && len(keys) == 0 {
		fmt.Fprintf(w, "%s 0\n", c.name)
	}
	return nil
}

// Sample is one gauge value with its label values.
type Sample struct {
	Labels []string
	Value  float64
}

// GaugeFunc is a gauge family whose samples are computed at scrape time.
type GaugeFunc struct {
	name, help string
	labels     []string
	fn         func(ctx context.Context) ([]Sample, error)
}

// NewGaugeFunc registers a gauge computed by fn at each scrape (e.g. queue
// depth from the database). An error from fn fails the scrape, so a broken
// database shows as a failed scrape rather than as zeros.
func (r *Registry) NewGaugeFunc(name, help string, labels []string, fn func(ctx context.Context) ([]Sample, error)) {
	r.add(name, &GaugeFunc{name: name, help: help, labels: labels, fn: fn})
}

func (g *GaugeFunc) write(ctx context.Context, w *bufio.Writer) error {
	samples, err := g.fn(ctx)
	if err != nil {
		return fmt.Errorf("metrics: %s: %w", g.name, err)
	}
	header(w, g.name, g.help, "gauge")
	sort.Slice(samples, func(i, j int) bool {
		return strings.Join(samples[i].Labels, "\xff") < strings.Join(samples[j].Labels, "\xff")
	})
	for _, s := range samples {
		fmt.Fprintf(w, "%s%s %s\n", g.name, labelString(g.labels, s.Labels), formatFloat(s.Value))
	}
	return nil
}

// HistogramVec is a histogram family with labels and fixed buckets.
type HistogramVec struct {
	name, help string
	labels     []string
	buckets    []float64
	mu         sync.Mutex
	series     map[string]*histSeries
}

type histSeries struct {
	values []string
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

// DefaultLatencyBuckets suit HTTP and OSCI call latencies in seconds.
var DefaultLatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewHistogram registers a histogram family with the given upper bounds
// (ascending; +Inf is implicit).
func (r *Registry) NewHistogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if !sort.Float64sAreSorted(buckets) {
		panic("metrics: buckets not sorted for " + name)
	}
	h := &HistogramVec{name: name, help: help, labels: labels, buckets: buckets, series: map[string]*histSeries{}}
	r.add(name, h)
	return h
}

// Observe records one value.
func (h *HistogramVec) Observe(v float64, values ...string) {
	if len(values) != len(h.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", h.name, len(h.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.series[key]
	if !ok {
		s = &histSeries{values: append([]string(nil), values...), counts: make([]uint64, len(h.buckets)+1)}
		h.series[key] = s
	}
	i := sort.SearchFloat64s(h.buckets, v) // first bucket with bound >= v
	s.counts[i]++
	s.sum += v
	s.n++
}

// ObserveSince records the seconds elapsed since start.
func (h *HistogramVec) ObserveSince(start time.Time, values ...string) {
	h.Observe(time.Since(start).Seconds(), values...)
}

// Count returns how many values one series has seen (for tests).
func (h *HistogramVec) Count(values ...string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.series[strings.Join(values, "\xff")]; ok {
		return s.n
	}
	return 0
}

func (h *HistogramVec) write(_ context.Context, w *bufio.Writer) error {
	header(w, h.name, h.help, "histogram")
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]string, 0, len(h.series))
	for k := range h.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := h.series[k]
		var cum uint64
		for i, b := range h.buckets {
			cum += s.counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelString(h.labels, s.values, "le", formatFloat(b)), cum)
		}
		cum += s.counts[len(h.buckets)]
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelString(h.labels, s.values, "le", "+Inf"), cum)
		fmt.Fprintf(w, "%s_sum%s %s\n", h.name, labelString(h.labels, s.values), formatFloat(s.sum))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, labelString(h.labels, s.values), s.n)
	}
	return nil
}
