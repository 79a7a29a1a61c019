package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
)

func init() {
	register(&command{
		Name:    "validate",
		Summary: "validate XAusländer messages against the official XSDs, code lists and header rules",
		Run:     runValidate,
	})
}

// fileResult is one file's outcome in --json output.
type fileResult struct {
	File string `json:"file"`
	*schemas.Result
	// Error is set when the file could not be read.
	Error string `json:"error,omitempty"`
}

// parseInterleaved parses flags that may appear before, between or after
// the positional arguments ("validate a.xml --json b.xml").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func openBundle(c *cli, dir string) (*schemas.Bundle, error) {
	if dir == "" {
		d, err := schemas.DefaultDir(c.Getenv)
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return schemas.Open(dir, schemas.Options{})
}

func runValidate(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	dir := fs.String("schemas", "", "schema bundle directory (default $XAGW_SCHEMAS, else ../shared/xrepository)")
	asJSON := fs.Bool("json", false, "print a JSON array of results instead of text")
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "usage: xagw validate [--schemas DIR] [--json] FILE...   (FILE - reads standard input)")
		fmt.Fprintln(c.Stderr, "\nValidates each file against the XSDs and code lists of the bundle and the header")
		fmt.Fprintln(c.Stderr, "rules an office applies (nachrichtentyp = root element, UUIDs, leser/autor, time")
		fmt.Fprintln(c.Stderr, "zone, standard/version attributes). Exit status 0 only if every file is valid,")
		fmt.Fprintln(c.Stderr, "1 if any is invalid or unreadable, 2 on usage errors.")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	bundle, err := openBundle(c, *dir)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw validate: %v\n", err)
		return 1
	}
	v := xauslaender.NewValidator(bundle)

	results := make([]fileResult, len(files))
	var stdin []byte
	var stdinErr error
	for _, f := range files {
		if f == "-" { // read once, up front: several "-" see the same document
			stdin, stdinErr = safexml.ReadAll(c.Stdin, xauslaender.Limits)
			break
		}
	}
	// Validate concurrently; libxml2 validation is safe on a shared schema.
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = validateFile(v, files[i], stdin, stdinErr)
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(c.Stderr, "xagw validate: interrupted")
		return 1
	}

	allValid := true
	for _, r := range results {
		if r.Result == nil || !r.Valid {
			allValid = false
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(c.Stderr, "xagw validate: %v\n", err)
			return 1
		}
	} else {
		for _, r := range results {
			printResult(c.Stdout, r)
		}
	}
	if !allValid {
		return 1
	}
	return 0
}

func validateFile(v *xauslaender.Validator, name string, stdin []byte, stdinErr error) fileResult {
	var data []byte
	var err error
	if name == "-" {
		data, err = stdin, stdinErr
	} else {
		data, err = readLimited(name)
	}
	if err != nil {
		return fileResult{File: name, Error: err.Error()}
	}
	return fileResult{File: name, Result: v.Validate(data)}
}

// readLimited reads a file as untrusted input: never more than the
// message size limit.
func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return safexml.ReadAll(f, xauslaender.Limits)
}

func printResult(w io.Writer, r fileResult) {
	if r.Result == nil {
		fmt.Fprintf(w, "%s: error: %s\n", r.File, r.Error)
		return
	}
	what := r.Root
	if v := versionOf(r.Namespace); v != "" {
		what += ", XAusländer " + v
	}
	if r.Valid {
		if what != "" {
			fmt.Fprintf(w, "%s: valid (%s)\n", r.File, what)
		} else {
			fmt.Fprintf(w, "%s: valid\n", r.File)
		}
	} else if what != "" {
		fmt.Fprintf(w, "%s: invalid (%s)\n", r.File, what)
	} else {
		fmt.Fprintf(w, "%s: invalid\n", r.File)
	}
	for _, p := range r.Problems {
		loc := ""
		if p.Line > 0 {
			loc = fmt.Sprintf("line %d: ", p.Line)
		}
		if p.Path != "" {
			loc += p.Path + ": "
		}
		fmt.Fprintf(w, "  %s: %s%s [%s]\n", p.Severity, loc, p.Message, p.Kind)
	}
	if r.Truncated > 0 {
		fmt.Fprintf(w, "  … and %d more problems\n", r.Truncated)
	}
}

func versionOf(ns string) string {
	for _, v := range xauslaender.Versions() {
		if v.Namespace == ns {
			return v.Version
		}
	}
	return ""
}
