package embedded_test

import (
	"context"
	"testing"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/embedded"
)

func TestEmbeddedDeliversAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := embedded.Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Router.Route(ctx, embedded.ABHKey, "26.11")
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.Transport.NewMessageID(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Transport.Send(ctx, gateway.Outgoing{MessageID: id, Subject: "test", Content: []byte("<x/>"), Route: r})
	if err != nil || s.Card == nil || !s.Card.Exists {
		t.Fatalf("send: %+v %v", s, err)
	}
	url, root := e.IntermediaryURL, e.PKI.Root.Certificate.Raw
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Same keys, same address, same mailbox content after a restart.
	e2, err := embedded.Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if e2.IntermediaryURL != url || string(e2.PKI.Root.Certificate.Raw) != string(root) {
		t.Fatalf("restart changed the setup: %s vs %s", e2.IntermediaryURL, url)
	}
	c, err := e2.Transport.ProcessCard(ctx, r, id)
	if err != nil || !c.Exists {
		t.Fatalf("card after restart: %+v %v", c, err)
	}
	// The gateway's own mailbox is reachable and empty.
	ids, err := e2.Mailbox.Pending(ctx)
	if err != nil || len(ids) != 0 {
		t.Fatalf("pending %v %v", ids, err)
	}
}
