package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/gateway/daemon"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
)

func init() {
	register(&command{
		Name:    "serve",
		Summary: "run the gateway daemon: HTTP API, durable outbox, delivery, replies, webhooks",
		Run:     runServe,
	})
}

func runServe(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML, see gateway/xagw.example.yaml); without it the embedded default runs")
	check := fs.Bool("check", false, "load and check the configuration, then exit")
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "usage: xagw serve [--config FILE] [--check]")
		fmt.Fprintln(c.Stderr, "\nSettings can be overridden by XAGW_… environment variables (e.g. XAGW_HTTP_LISTEN);")
		fmt.Fprintln(c.Stderr, "secrets come from files or the environment, never from flags.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.Stderr, "xagw serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*cfgPath, c.Getenv)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	log := newLogger(cfg.Log, c.Stderr)
	deps, err := serveDeps(cfg, c.Getenv)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	if *check {
		fmt.Fprintln(c.Stdout, "configuration OK")
		return 0
	}
	d, err := daemon.New(ctx, cfg, deps, log, c.Getenv)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	defer d.Close()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	return 0
}

// serveDeps builds the standard-specific parts for the configured mode.
func serveDeps(cfg *config.Config, getenv func(string) string) (daemon.Deps, error) {
	switch cfg.Transport.Mode {
	case config.ModeEmbedded:
		return daemon.Deps{}, errors.New("the embedded default (local OSCI test intermediary, file DVDV directory, generated keys) " +
			"is not wired in this build yet: the OSCI client and osci/intermediary are still being finished (docs/notes/issue-5.md, phase 2). " +
			"To run the API, validation and the durable outbox without delivery, start with --config FILE and transport.mode: none")
	case config.ModeOSCI:
		return daemon.Deps{}, errors.New("transport.mode osci is not wired in this build yet (the OSCI client is still being finished; " +
			"docs/notes/issue-5.md, phase 2); use transport.mode: none to accept and store messages without delivering them")
	}
	dir := cfg.Transport.Schemas
	if dir == "" {
		var err error
		if dir, err = schemas.DefaultDir(getenv); err != nil {
			return daemon.Deps{}, err
		}
	}
	bundle, err := schemas.Open(dir, schemas.Options{})
	if err != nil {
		return daemon.Deps{}, err
	}
	var sender *xauslaender.Sender
	if s := cfg.Sender; s.Configured() {
		sender = &xauslaender.Sender{Produkt: s.Produkt, Produkthersteller: s.Produkthersteller, Produktversion: s.Produktversion, Test: s.Test,
			Autor:          xauslaender.Behoerde{Verzeichnisdienst: "DVDV", Kennung: s.Kennung, Name: s.Name},
			Erreichbarkeit: []xauslaender.Erreichbarkeit{{Kanal: "01", KanalListVersion: "3", Kennung: s.Email}},
			Anschrift:      xauslaender.Anschrift{Strasse: s.Strasse, Hausnummer: s.Hausnummer, Postleitzahl: s.Postleitzahl, Ort: s.Ort}}
	}
	codec, err := xacodec.New(bundle, sender)
	if err != nil {
		return daemon.Deps{}, err
	}
	return daemon.Deps{Codec: codec, ReplyParser: codec}, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
