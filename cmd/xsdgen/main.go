// Command xsdgen generates the Go message types of package xauslaender from
// an XAusländer schema bundle (see internal/xsdgen).
//
//	xsdgen [-schemas DIR] [-out DIR]
//
// It generates one package per XAusländer version found in the bundle
// (out/v2611, out/v1211, …) and out/versions_gen.go registering them. The
// bundle defaults to $XAGW_SCHEMAS, else ../shared/xrepository. Run it
// through `make generate` (go generate ./...).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/xagw/xagw/internal/xsdgen"
	"github.com/xagw/xagw/schemas"
)

func main() {
	dir := flag.String("schemas", "", "schema bundle directory (default $XAGW_SCHEMAS or ../shared/xrepository)")
	out := flag.String("out", ".", "output directory (the xauslaender package)")
	flag.Parse()
	if err := run(*dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "xsdgen:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	if dir == "" {
		d, err := schemas.DefaultDir(nil)
		if err != nil {
			return err
		}
		dir = d
	}
	b, err := schemas.Open(dir, schemas.Options{})
	if err != nil {
		return err
	}
	files, err := xsdgen.GenerateAll(b, out, "make generate (go generate ./xauslaender)")
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println("xsdgen: generated", f)
	}
	return nil
}
