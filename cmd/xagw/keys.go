package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/testvectors"
)

// envKeysPIN holds the PIN for the PKCS#12 files of `xagw keys testpki`
// when no --pin-file is given (the same variable the osci commands read).
const envKeysPIN = "XAGW_PIN"

func init() {
	register(&command{
		Name:    "keys",
		Summary: "key material for tests: generate the project's test PKI (testpki)",
		Run:     runKeys,
	})
}

const keysUsage = `usage:
  xagw keys testpki --out DIR [--rsa-bits 4096] [--pin-file F] [--legacy-pkcs12]
                    [--deterministic-seed SEED [--now RFC3339]]

Run 'xagw keys testpki -h' for all flags.
`

func runKeys(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.Stderr, keysUsage)
		return 2
	}
	switch args[0] {
	case "testpki":
		return keysTestPKI(ctx, c, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(c.Stderr, keysUsage)
		return 0
	}
	fmt.Fprintf(c.Stderr, "xagw keys: unknown subcommand %q\n\n%s", args[0], keysUsage)
	return 2
}

func keysTestPKI(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw keys testpki", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	out := fs.String("out", "", "directory to write the PKI to (created if missing; files of the same names are replaced)")
	bits := fs.Int("rsa-bits", 4096, "size of the CA keys and main RSA keys: 2048, 3072 or 4096 (the -rsa2048 variants are always 2048)")
	pinFile := fs.String("pin-file", "", "write PKCS#12 files protected by the PIN in this file (else $"+envKeysPIN+"; without either, PEM only)")
	legacy := fs.Bool("legacy-pkcs12", false, "PKCS#12 with 3DES/RC2 and a SHA-1 MAC, for tools that cannot read the modern form")
	seed := fs.String("deterministic-seed", "", "TEST ONLY: derive every key, serial and salt from this public seed, so the output is reproducible bit for bit; anyone with the seed has the private keys")
	nowFlag := fs.String("now", "", "reference time (RFC 3339) the validity periods are relative to; default: the current time, or with --deterministic-seed the conformance kit's reference time "+testvectors.ReferenceTime.Format(time.RFC3339))
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, `usage: xagw keys testpki --out DIR [flags]

Writes a complete test PKI for OSCI: root and issuing CA, signature and cipher
certificates for the intermediary, a sender and an ABH addressee, another reader,
RSA 2048/4096 and ECDSA variants, an expired, a not-yet-valid and two revoked
certificates (a cipher and a signature certificate) with the CAs' CRLs, as PEM
(plus PKCS#12 with a PIN) and an index.json naming each role.
THESE ARE TEST KEYS: never use them for real messages.

`)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" || len(rest) > 0 {
		fs.Usage()
		return 2
	}
	opts := testpki.Options{RSABits: *bits, LegacyPKCS12: *legacy}
	switch {
	case *nowFlag != "":
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintf(c.Stderr, "xagw keys testpki: --now: %v\n", err)
			return 2
		}
		opts.Now = t
	case *seed != "":
		opts.Now = testvectors.ReferenceTime
	}
	if *seed != "" {
		opts.InsecureDeterministicSeed = []byte(*seed)
	}
	switch {
	case *pinFile != "":
		if opts.PIN, err = keystore.PINFromFile(*pinFile); err != nil {
			fmt.Fprintf(c.Stderr, "xagw keys testpki: %v\n", err)
			return 1
		}
	case c.Getenv(envKeysPIN) != "":
		if opts.PIN, err = keystore.PINFromEnv(envKeysPIN, c.Getenv); err != nil {
			fmt.Fprintf(c.Stderr, "xagw keys testpki: %v\n", err)
			return 1
		}
	}
	defer clear(opts.PIN)
	p, err := testpki.Generate(opts)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw keys testpki: %v\n", err)
		return 1
	}
	if err := testvectors.ExtendPKI(p, opts.InsecureDeterministicSeed); err != nil {
		fmt.Fprintf(c.Stderr, "xagw keys testpki: %v\n", err)
		return 1
	}
	if err := ctx.Err(); err != nil {
		fmt.Fprintln(c.Stderr, "xagw keys testpki: interrupted")
		return 1
	}
	if err := p.WriteDir(*out); err != nil {
		fmt.Fprintf(c.Stderr, "xagw keys testpki: %v\n", err)
		return 1
	}
	kind := "random"
	if p.Deterministic {
		kind = "deterministic (TEST ONLY: the seed is the private keys)"
	}
	fmt.Fprintf(c.Stdout, "test PKI written to %s: %s, reference time %s\n", *out, kind, p.Now.Format(time.RFC3339))
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tUSAGE\tSTATUS\tKEY\tNOT AFTER")
	for _, e := range append([]*testpki.Entity{p.Root, p.IssuingCA}, p.Entities...) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Role, e.Usage, e.Status, e.KeyType, e.Certificate.NotAfter.UTC().Format("2006-01-02"))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	if len(opts.PIN) == 0 {
		fmt.Fprintln(c.Stdout, strings.TrimSpace("no PIN given: PEM files only (no PKCS#12)"))
	}
	return 0
}
