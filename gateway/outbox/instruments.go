package outbox

import (
	"context"
	"time"

	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/store"
)

type instruments struct {
	accepted        *metrics.CounterVec
	rejected        *metrics.CounterVec
	delivered       *metrics.CounterVec
	dead            *metrics.CounterVec
	purged          *metrics.CounterVec
	leaseLost       *metrics.CounterVec
	attempts        *metrics.CounterVec
	failures        *metrics.CounterVec
	stepSeconds     *metrics.HistogramVec
	acceptSeconds   *metrics.HistogramVec
	deliverySeconds *metrics.HistogramVec
	claims          *metrics.CounterVec
	claimed         *metrics.HistogramVec
	claimWait       *metrics.HistogramVec
}

func newInstruments(r *metrics.Registry, s *store.Store) *instruments {
	r.NewGaugeFunc("xagw_outbox_messages", "Messages in the outbox by state (queue depth for the non-terminal states).", []string{"state"},
		func(ctx context.Context) ([]metrics.Sample, error) {
			counts, err := s.CountByState(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]metrics.Sample, 0, len(counts))
			for st, n := range counts {
				out = append(out, metrics.Sample{Labels: []string{string(st)}, Value: float64(n)})
			}
			return out, nil
		})
	return &instruments{
		accepted:        r.NewCounter("xagw_outbox_accepted_total", "Messages accepted into the outbox."),
		rejected:        r.NewCounter("xagw_outbox_rejected_total", "Submissions rejected, by reason.", "reason"),
		delivered:       r.NewCounter("xagw_outbox_delivered_total", "Messages delivered (receipt confirmed by process card)."),
		dead:            r.NewCounter("xagw_outbox_dead_letters_total", "Messages dead-lettered, by reason code.", "reason"),
		purged:          r.NewCounter("xagw_outbox_purged_total", "Message bodies purged after retention."),
		leaseLost:       r.NewCounter("xagw_outbox_lease_lost_total", "State changes refused because the worker's lease had passed to another."),
		attempts:        r.NewCounter("xagw_outbox_attempts_total", "Calls made per delivery step.", "step"),
		failures:        r.NewCounter("xagw_outbox_failures_total", "Failed delivery steps by step and reason code.", "step", "reason"),
		stepSeconds:     r.NewHistogram("xagw_outbox_step_seconds", "Latency of delivery steps (DVDV, OSCI calls).", metrics.DefaultLatencyBuckets, "step"),
		acceptSeconds:   r.NewHistogram("xagw_outbox_accept_seconds", "Time to validate, seal and store a submission.", metrics.DefaultLatencyBuckets),
		claims:          r.NewCounter("xagw_outbox_claims_total", "Claim transactions run by the dispatcher (failed ones included)."),
		claimed:         r.NewHistogram("xagw_outbox_claim_messages", "Messages leased per successful claim transaction (sum/count: messages per claim).", []float64{0, 1, 2, 4, 8, 16, 32, 64}),
		claimWait:       r.NewHistogram("xagw_outbox_claim_wait_seconds", "Time the dispatcher held free workers under a backlog to claim for several at once (Config.ClaimWait bounds it).", []float64{.001, .0025, .005, .01, .02, .05, .1, .25, 1}),
		deliverySeconds: r.NewHistogram("xagw_outbox_delivery_seconds", "Time from acceptance to confirmed delivery.", []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400}),
	}
}

// step counts one call of a delivery step and its latency; failures are
// counted by fail, once per attempt.
func (m *instruments) step(step string, start time.Time) {
	m.attempts.Inc(step)
	m.stepSeconds.ObserveSince(start, step)
}
