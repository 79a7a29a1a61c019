package gatewaytest

import (
	"context"
	"fmt"
	"sync"

	"github.com/xagw/xagw/gateway"
)

// Mailbox is the gateway's own mailbox at a fake intermediary, implementing
// gateway.Mailbox. Like OSCI, fetching marks a delivery received, so it no
// longer shows in Pending, but it can be fetched again by id.
type Mailbox struct {
	mu        sync.Mutex
	items     map[string]gateway.Incoming
	order     []string
	fetched   map[string]int
	failFetch []error
}

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox {
	return &Mailbox{items: map[string]gateway.Incoming{}, fetched: map[string]int{}}
}

// Put stores a delivery for the gateway.
func (m *Mailbox) Put(in gateway.Incoming) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.items[in.MessageID]; !dup {
		m.order = append(m.order, in.MessageID)
	}
	m.items[in.MessageID] = in
}

// FailFetch queues errors for the next Fetch calls.
func (m *Mailbox) FailFetch(errs ...error) {
	m.mu.Lock()
	m.failFetch = append(m.failFetch, errs...)
	m.mu.Unlock()
}

// Fetched returns how often id was fetched.
func (m *Mailbox) Fetched(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fetched[id]
}

// Pending lists deliveries never fetched.
func (m *Mailbox) Pending(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, id := range m.order {
		if m.fetched[id] == 0 {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Fetch returns a delivery and marks it received.
func (m *Mailbox) Fetch(ctx context.Context, id string) (gateway.Incoming, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.items[id]
	if !ok {
		return gateway.Incoming{}, &FeedbackError{FeedbackCode: "9801", Text: fmt.Sprintf("no delivery %s", id)}
	}
	m.fetched[id]++
	if len(m.failFetch) > 0 {
		err := m.failFetch[0]
		m.failFetch = m.failFetch[1:]
		return gateway.Incoming{}, err // marked received, but the answer is lost
	}
	return in, nil
}
