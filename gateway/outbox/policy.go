package outbox

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy is the retry policy: exponential backoff with jitter, computed from
// the number of failed attempts stored with the message, so a restart
// continues the same schedule.
type Policy struct {
	Initial     time.Duration // delay after the first failure (default 5s)
	Max         time.Duration // cap (default 1h)
	Multiplier  float64       // growth per attempt (default 2)
	Jitter      float64       // ± fraction of randomisation (default 0.2)
	MaxAttempts int           // failed attempts before dead-lettering (default 20)
}

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = 5 * time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	if p.Jitter < 0 || p.Jitter >= 1 {
		p.Jitter = 0.2
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 20
	}
	return p
}

// Delay returns the wait after the attempt-th failure (attempt ≥ 1).
//
// backoff.ExponentialBackOff keeps its current interval in memory; here it
// is rebuilt from the stored attempt count each time, which is what makes
// the schedule survive restarts and move between instances.
func (p Policy) Delay(attempt int) time.Duration {
	p = p.withDefaults()
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: p.Jitter,
		Multiplier:          p.Multiplier,
		MaxInterval:         p.Max,
		MaxElapsedTime:      0, // never stop: giving up is MaxAttempts' job
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	d := p.Initial
	for i := 0; i < max(attempt, 1) && i < 64; i++ {
		d = b.NextBackOff()
	}
	return d
}
