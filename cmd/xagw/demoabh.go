package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/testvectors"
	"github.com/xagw/xagw/testvectors/vendorsim"
)

func init() {
	register(&command{
		Name:    "demo-abh",
		Summary: "answer the embedded gateway's deliveries as the local test ABH would (for make run)",
		Run:     runDemoABH,
	})
}

const demoABHUsage = `usage: xagw demo-abh [--data DIR] [--behaviour good|bad] [--poll DURATION]

Plays the case system of the local test ABH (000100) that 'xagw serve' runs
without configuration: it fetches what the gateway delivered into the ABH's
mailbox at the embedded test intermediary, checks each message and answers it
(a Statusmeldung for a valid application, a Rückweisung for an invalid one),
signed with the ABH's test key and encrypted for the gateway. The gateway's
mailbox poll then brings the answers to GET /v1/inbox and the webhooks.
Run it next to 'make run', with the same data folder. Test keys only.
`

func runDemoABH(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw demo-abh", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	data := fs.String("data", "data", "the gateway's data folder (data_dir of the embedded default)")
	behaviour := fs.String("behaviour", string(vendorsim.WellBehaved), "good: answers as a conforming case system; bad: sends unsigned, wrongly linked answers (the gateway must quarantine them)")
	poll := fs.Duration("poll", time.Second, "mailbox polling interval")
	schemaDir := fs.String("schemas", "", "schema bundle directory (default $XAGW_SCHEMAS, else ../shared/xrepository)")
	fs.Usage = func() { fmt.Fprint(c.Stderr, demoABHUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.Stderr, "xagw demo-abh: unexpected arguments %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(c.Stderr, "xagw demo-abh: %v\n", err)
		return 1
	}
	target, err := embeddedTarget(filepath.Join(*data, "embedded"))
	if err != nil {
		return fail(err)
	}
	bundle, err := openBundle(c, *schemaDir)
	if err != nil {
		return fail(err)
	}
	p, err := testpki.Load(filepath.Join(*data, "embedded", "pki"))
	if err != nil {
		return fail(err)
	}
	policy := p.Policy()
	policy.Now = nil // live traffic: the current time
	logger := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fmt.Fprintf(c.Stderr, "xagw demo-abh: answering deliveries for ABH 000100 at %s (Ctrl-C to stop)\n", target.URL)
	err = vendorsim.Run(ctx, vendorsim.Config{
		Target: target, Signer: p.Entity("addressee-signature").Identity(), Cipher: p.Entity("addressee-cipher").Identity(),
		Policy: policy, Bundle: bundle, Behaviour: vendorsim.Behaviour(*behaviour), Poll: *poll,
		SpoolDir: os.TempDir(), Logger: logger,
	})
	if err != nil {
		return fail(err)
	}
	return 0
}

// embeddedTarget describes the test intermediary of the embedded default in
// dir (<data>/embedded): gateway/embedded remembers its loopback address in
// intermediary.addr and keeps the test PKI in pki/.
func embeddedTarget(dir string) (testvectors.Target, error) {
	addr, err := os.ReadFile(filepath.Join(dir, "intermediary.addr"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return testvectors.Target{}, fmt.Errorf("no embedded gateway in %s: start it first with 'make run' (or 'xagw serve' without --config), or name its data folder with --data", filepath.Dir(dir))
		}
		return testvectors.Target{}, err
	}
	p, err := testpki.Load(filepath.Join(dir, "pki"))
	if err != nil {
		return testvectors.Target{}, err
	}
	cipher, sig := p.Entity("intermediary-cipher"), p.Entity("intermediary-signature")
	if cipher == nil || sig == nil {
		return testvectors.Target{}, fmt.Errorf("%s: the test PKI has no intermediary certificates", filepath.Join(dir, "pki"))
	}
	policy := p.Policy()
	policy.Now = nil
	return testvectors.Target{
		URL:                "http://" + strings.TrimSpace(string(addr)) + "/osci",
		IntermediaryCipher: cipher.Certificate, IntermediarySignature: sig.Certificate,
		Roots: policy.Roots, Policy: policy,
	}, nil
}
