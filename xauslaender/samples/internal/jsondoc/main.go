// Command jsondoc writes xauslaender/JSON.md from the samples
// (go generate ./xauslaender/samples).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/xagw/xagw/xauslaender/samples"
)

func main() {
	out := flag.String("o", "JSON.md", "output file")
	flag.Parse()
	doc, err := samples.JSONReference()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsondoc:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "jsondoc:", err)
		os.Exit(1)
	}
}
