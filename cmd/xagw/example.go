package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

func init() {
	register(&command{
		Name:    "example",
		Summary: "print a complete, valid sample XAusländer message (--list names them)",
		Run:     runExample,
	})
}

func runExample(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	list := fs.Bool("list", false, "print the available sample names, one per line")
	long := fs.Bool("v", false, "with --list: also print type code, direction and a description")
	asJSON := fs.Bool("json", false, "print the sample's content as JSON (what a form backend posts) instead of XML")
	dir := fs.String("schemas", "", "schema bundle directory (default $XAGW_SCHEMAS, else ../shared/xrepository)")
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "usage: xagw example --list [-v]")
		fmt.Fprintln(c.Stderr, "       xagw example [--json] [--schemas DIR] NAME")
		fs.PrintDefaults()
	}
	names, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *list {
		if len(names) > 0 {
			fmt.Fprintln(c.Stderr, "xagw example: --list takes no names")
			return 2
		}
		for _, s := range samples.List() {
			if *long {
				fmt.Fprintf(c.Stdout, "%-30s %s  %s  %s\n", s.Name, s.Code, s.Direction, s.Title)
			} else {
				fmt.Fprintln(c.Stdout, s.Name)
			}
		}
		return 0
	}
	if len(names) != 1 {
		fs.Usage()
		return 2
	}
	s, ok := samples.Lookup(names[0])
	if !ok {
		var all []string
		for _, x := range samples.List() {
			all = append(all, x.Name)
		}
		fmt.Fprintf(c.Stderr, "xagw example: no sample %q; available: %s\n", names[0], strings.Join(all, ", "))
		return 2
	}
	if *asJSON {
		out, err := xauslaender.ContentJSON(s.Content())
		if err != nil {
			fmt.Fprintf(c.Stderr, "xagw example: %v\n", err)
			return 1
		}
		c.Stdout.Write(append(out, '\n'))
		return 0
	}
	bundle, err := openBundle(c, *dir)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw example: %v\n", err)
		return 1
	}
	out, err := s.XML(bundle)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw example: %v\n", err)
		return 1
	}
	c.Stdout.Write(out)
	return 0
}
