package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// runCLI runs xagw in-process with the given arguments and environment
// overrides and returns its exit status and output streams.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}}
	code = run(context.Background(), c, args)
	return code, out.String(), errb.String()
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "no-such-command")
	if code != 2 || !strings.Contains(stderr, `unknown command "no-such-command"`) {
		t.Fatalf("code=%d stderr=%q", code, stderr)
	}
}
