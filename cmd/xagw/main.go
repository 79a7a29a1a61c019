// Command xagw is the command-line front end of the xagw library: the gateway
// daemon (serve), validation of XAusländer messages, OSCI tools, DVDV lookups
// and the conformance kit.
//
// Each subcommand lives in its own file and registers itself in init with
// register, so the commands stay thin wrappers around the packages that own the
// work and main.go never needs to change when one is added.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// cli carries what a subcommand may touch of the outside world. Tests run
// commands in-process with their own streams and environment.
type cli struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; secrets (PINs, tokens) come from here or
	// from files, never from arguments.
	Getenv func(string) string
}

// command is one subcommand. Run receives the arguments after its name and
// returns the process exit status.
type command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, c *cli, args []string) int
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("xagw: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &cli{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand; exit status 2 means a usage error.
func run(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(c.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(c.Stderr, "xagw: unknown command %q\n\n", args[0])
		usage(c.Stderr)
		return 2
	}
	return cmd.Run(ctx, c, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: xagw COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun 'xagw COMMAND -h' for the flags of a command.")
}
