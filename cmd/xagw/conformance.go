package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xagw/xagw/testvectors"
	"github.com/xagw/xagw/testvectors/report"
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
  xagw conformance generate --out DIR [--schemas DIR]

verify checks this project against every vector of the kit; generate rebuilds
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
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "usage: xagw conformance generate --out DIR [--schemas DIR]")
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
	m, err := testvectors.Generate(ctx, testvectors.GenerateOptions{Dir: *out, Bundle: bundle})
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw conformance generate: %v\n", err)
		return 1
	}
	fmt.Fprintf(c.Stdout, "wrote %d vectors, %d files and %s to %s\n", len(m.Vectors), len(m.Files), testvectors.ManifestFile, *out)
	return 0
}
