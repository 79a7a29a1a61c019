package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/testvectors"
	"github.com/xagw/xagw/testvectors/report"
	"github.com/xagw/xagw/testvectors/vendorsim"
	"github.com/xagw/xagw/xauslaender"
)

func init() {
	register(&command{
		Name:    "conformance",
		Summary: "conformance kit: verify the project against the vectors, run them against a case system, regenerate them",
		Run:     runConformance,
	})
}

const conformanceUsage = `usage:
  xagw conformance verify   [--dir testvectors] [--schemas DIR] [--json] [--junit FILE] [--only PREFIX ...]
  xagw conformance run      [--target URL ...] [--vendor-cipher CERT] [--simulate good|bad] ... (see 'xagw conformance run -h')
  xagw conformance generate --out DIR [--schemas DIR] [--large]

verify checks this project against every vector of the kit; run delivers the
vectors to a case system's mailbox and checks its replies; generate rebuilds
the vectors (bit for bit) from the test PKI in DIR/pki.
Exit status: 0 conforming, 1 not conforming or failed, 2 usage error.
`

func runConformance(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.Stderr, conformanceUsage)
		return 2
	}
	switch args[0] {
	case "verify":
		return conformanceVerify(ctx, c, args[1:])
	case "run":
		return conformanceRun(ctx, c, args[1:])
	case "generate":
		return conformanceGenerate(ctx, c, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(c.Stderr, conformanceUsage)
		return 0
	}
	fmt.Fprintf(c.Stderr, "xagw conformance: unknown subcommand %q\n\n%s", args[0], conformanceUsage)
	return 2
}

// reportFlags are the output flags every report-producing subcommand has.
type reportFlags struct {
	json  *bool
	junit *string
}

func addReportFlags(fs *flag.FlagSet) reportFlags {
	return reportFlags{
		json:  fs.Bool("json", false, "print the report as JSON instead of text"),
		junit: fs.String("junit", "", "also write the report as JUnit XML to this file (for CI)"),
	}
}

// write prints the report and writes the JUnit file; it returns the exit
// status: 0 only when the report conforms and everything was written.
func (rf reportFlags) write(c *cli, name string, r *report.Report) int {
	var err error
	if *rf.json {
		err = report.WriteJSON(c.Stdout, r)
	} else {
		err = report.WriteText(c.Stdout, r)
	}
	if err != nil {
		fmt.Fprintf(c.Stderr, "%s: %v\n", name, err)
		return 1
	}
	if *rf.junit != "" {
		if err := writeFileWith(*rf.junit, func(w io.Writer) error { return report.WriteJUnit(w, r) }); err != nil {
			fmt.Fprintf(c.Stderr, "%s: JUnit report: %v\n", name, err)
			return 1
		}
	}
	if !r.OK() {
		return 1
	}
	return 0
}

func writeFileWith(p string, f func(io.Writer) error) error {
	fh, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := f(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func conformanceVerify(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw conformance verify", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	dir := fs.String("dir", "testvectors", "kit directory (with manifest.json)")
	schemaDir := fs.String("schemas", "", "schema bundle directory (default $XAGW_SCHEMAS, else ../shared/xrepository)")
	var only stringList
	fs.Var(&only, "only", "check only vectors whose id starts with this prefix (repeatable), e.g. xa.invalid")
	rf := addReportFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "usage: xagw conformance verify [--dir testvectors] [--schemas DIR] [--json] [--junit FILE] [--only PREFIX ...]")
		fmt.Fprintln(c.Stderr, "\nChecks this project against every vector: file hashes, XAusländer validation with the")
		fmt.Fprintln(c.Stderr, "expected error classes, OSCI envelopes opened with the kit's keys. Exit status 0 only if")
		fmt.Fprintln(c.Stderr, "every vector gives its expected outcome.")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(c.Stderr, "xagw conformance verify: unexpected arguments %s\n", strings.Join(rest, " "))
		return 2
	}
	bundle, err := openBundle(c, *schemaDir)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw conformance verify: %v\n", err)
		return 1
	}
	r, err := testvectors.Verify(ctx, testvectors.VerifyOptions{Dir: *dir, Bundle: bundle, Only: only})
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw conformance verify: %v\n", err)
		return 1
	}
	return rf.write(c, "xagw conformance verify", r)
}

func conformanceGenerate(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw conformance generate", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	out := fs.String("out", "", "kit directory to write (its pki/ folder must hold the test PKI from 'xagw keys testpki')")
	schemaDir := fs.String("schemas", "", "schema bundle directory (default $XAGW_SCHEMAS, else ../shared/xrepository)")
	large := fs.Bool("large", false, "also write the on-demand vectors (a storeDelivery with a 100 MiB attachment); their hashes are in the manifest either way")
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "usage: xagw conformance generate --out DIR [--schemas DIR] [--large]")
		fmt.Fprintln(c.Stderr, "\nRebuilds every vector and manifest.json from the test PKI in DIR/pki, bit for bit:")
		fmt.Fprintln(c.Stderr, "all randomness is a fixed test seed (TEST MATERIAL ONLY). Create the PKI first with")
		fmt.Fprintln(c.Stderr, "  xagw keys testpki --out DIR/pki --deterministic-seed "+testvectors.KitSeed)
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
	bundle, err := openBundle(c, *schemaDir)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw conformance generate: %v\n", err)
		return 1
	}
	m, err := testvectors.Generate(ctx, testvectors.GenerateOptions{Dir: *out, Bundle: bundle, Large: *large})
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw conformance generate: %v\n", err)
		return 1
	}
	fmt.Fprintf(c.Stdout, "wrote %d vectors, %d files and %s to %s\n", len(m.Vectors), len(m.Files), testvectors.ManifestFile, *out)
	return 0
}

const conformanceRunUsage = `usage: xagw conformance run [flags]

Delivers every vector a case system receives into the vendor's mailbox at an
OSCI intermediary (fresh nachrichtenUUIDs each run), collects the replies from
the kit's own mailbox and checks them (OSCI signatures and encryption, XSD,
code lists, header rules, ausloeserUUID / idNachricht linking to the message
answered). Prints one line per vector; exit status 0 only if the case system
conforms.

Where the mailbox is:
  --target URL --intermediary-cipher CERT --intermediary-signature CERT
        a vendor's (test) intermediary
  --directory FILE --abh BHKNZ [--xa-version V]
        take intermediary and vendor certificates from a DVDV directory file
  (neither) the kit's own test intermediary, started on --listen, for the
        vendor's system to connect to (or for --simulate)

Examples (5 minutes):
  xagw conformance run --simulate good               # dry run: simulated well-behaved case system
  xagw conformance run --simulate bad --junit r.xml  # what failures look like
  xagw conformance run --listen 0.0.0.0:8443 --vendor-cipher abh-cipher.pem --trust vendor-ca.pem --wait 10m

Flags:
`

func conformanceRun(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw conformance run", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	dir := fs.String("dir", "testvectors", "kit directory (with manifest.json)")
	schemaDir := fs.String("schemas", "", "schema bundle directory (default $XAGW_SCHEMAS, else ../shared/xrepository)")
	target := fs.String("target", "", "URL of the intermediary holding the vendor's mailbox (default: the kit's own test intermediary)")
	interCipher := fs.String("intermediary-cipher", "", "the target intermediary's cipher certificate (PEM or DER)")
	interSig := fs.String("intermediary-signature", "", "the target intermediary's signature certificate (PEM or DER)")
	directory := fs.String("directory", "", "DVDV directory file to find intermediary and vendor certificates in (with --abh)")
	abh := fs.String("abh", "", "office key (BHKNZ) of the vendor's ABH: looked up in --directory, and the messages' leser is re-addressed to it")
	xaVersion := fs.String("xa-version", "", "XAusländer version of the DVDV service to look up (default: the kit's)")
	vendorCipher := fs.String("vendor-cipher", "", "the case system's cipher certificate: its mailbox (default with --simulate: the kit's ABH)")
	vendorSig := fs.String("vendor-signature", "", "accept only this certificate for the content signatures of replies")
	var trust stringList
	fs.Var(&trust, "trust", "trust anchor file (PEM/DER) for the vendor's or intermediary's certificates, repeatable")
	listen := fs.String("listen", "127.0.0.1:0", "address of the kit's own test intermediary (when there is no --target)")
	simulate := fs.String("simulate", "", "run a simulated case system against the intermediary: good or bad")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for replies")
	poll := fs.Duration("poll", 2*time.Second, "mailbox polling interval")
	var only stringList
	fs.Var(&only, "only", "run only vectors whose id starts with this prefix (repeatable)")
	verbose := fs.Bool("v", false, "log every OSCI exchange (no content) to standard error")
	rf := addReportFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, conformanceRunUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(c.Stderr, "xagw conformance run: %s\n", msg)
		return 2
	}
	if len(rest) > 0 {
		return usageErr("unexpected arguments " + strings.Join(rest, " "))
	}
	if *simulate != "" && *simulate != string(vendorsim.WellBehaved) && *simulate != string(vendorsim.Misbehaving) {
		return usageErr("--simulate takes good or bad")
	}
	if *directory != "" && (*abh == "" || *target != "") {
		return usageErr("--directory needs --abh and replaces --target")
	}
	fail := func(err error) int {
		fmt.Fprintf(c.Stderr, "xagw conformance run: %v\n", err)
		return 1
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: level}))
	bundle, err := openBundle(c, *schemaDir)
	if err != nil {
		return fail(err)
	}
	o := testvectors.RunOptions{Dir: *dir, Bundle: bundle, IntermediaryURL: *target, Listen: *listen, ABH: *abh,
		Wait: *wait, Poll: *poll, Only: only, Logger: logger}
	certFlag := func(p string) (*x509.Certificate, error) {
		if p == "" {
			return nil, nil
		}
		cs, err := keystore.LoadCertificatesFile(p)
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 {
			return nil, fmt.Errorf("%s holds no certificate", p)
		}
		return cs[0], nil
	}
	for _, f := range []struct {
		path string
		dst  **x509.Certificate
	}{{*interCipher, &o.IntermediaryCipher}, {*interSig, &o.IntermediarySignature}, {*vendorCipher, &o.VendorCipher}, {*vendorSig, &o.VendorSignature}} {
		if *f.dst, err = certFlag(f.path); err != nil {
			return fail(err)
		}
	}
	for _, p := range trust {
		cs, err := keystore.LoadCertificatesFile(p)
		if err != nil {
			return fail(err)
		}
		o.Trust = append(o.Trust, cs...)
	}
	if *directory != "" {
		d, err := dvdvfile.Load(*directory, dvdvfile.Options{Logger: logger})
		if err != nil {
			return fail(err)
		}
		version := *xaVersion
		if version == "" {
			version = xauslaender.Latest().Version
		}
		uri, err := dvdv.OZGServiceURI(version)
		if err != nil {
			return fail(err)
		}
		org, err := dvdv.ABHKey(*abh)
		if err != nil {
			return fail(err)
		}
		route, err := d.Lookup(ctx, org, uri)
		if err != nil {
			return fail(err)
		}
		o.IntermediaryURL, o.IntermediaryCipher, o.IntermediarySignature = route.IntermediaryURL, route.IntermediaryCipherCert, route.IntermediarySignatureCert
		if o.VendorCipher == nil {
			o.VendorCipher = route.AddresseeCipherCert
		}
		if o.VendorSignature == nil {
			o.VendorSignature = route.AddresseeSignatureCert
		}
	}
	if *simulate != "" {
		signer, cipher, policy, err := vendorsim.Kit(*dir)
		if err != nil {
			return fail(err)
		}
		if o.VendorCipher == nil {
			o.VendorCipher = cipher.Certificate
		}
		if *poll == 2*time.Second {
			o.Poll = 250 * time.Millisecond // the simulation answers at once
		}
		o.Settle = 2 * time.Second
		spool := os.TempDir()
		o.StartVendor = func(ctx context.Context, t testvectors.Target) error {
			return vendorsim.Run(ctx, vendorsim.Config{Target: t, Signer: signer, Cipher: cipher, Policy: policy, Bundle: bundle,
				Behaviour: vendorsim.Behaviour(*simulate), Poll: 250 * time.Millisecond, SpoolDir: spool, Logger: logger})
		}
	}
	if o.VendorCipher == nil {
		return usageErr("the vendor's cipher certificate is needed: --vendor-cipher, --directory/--abh or --simulate")
	}
	if o.IntermediaryURL == "" && *simulate == "" {
		o.Announce = func(t testvectors.Target) {
			fmt.Fprintf(c.Stderr, "xagw conformance run: the kit's test intermediary listens at %s (cipher %s/pki/intermediary-cipher.cert.pem, signature %s/pki/intermediary-signature.cert.pem); point the case system at it and let it trust %s/pki/root-ca.cert.pem. Waiting up to %s for replies.\n",
				t.URL, *dir, *dir, *dir, o.Wait)
		}
	}
	r, err := testvectors.Run(ctx, o)
	if err != nil {
		return fail(err)
	}
	return rf.write(c, "xagw conformance run", r)
}
