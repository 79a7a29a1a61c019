package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

// Environment variables of the dvdv command. The PIN is never a flag.
const (
	envDVDVServers = "XAGW_DVDV_SERVERS" // comma-separated server URLs
	envDVDVPIN     = "XAGW_DVDV_PIN"     // PIN of the PKCS#12 client credential
)

func init() {
	register(&command{
		Name:    "dvdv",
		Summary: "DVDV directory: lookup a recipient, run a fake DVDV server",
		Run:     runDVDV,
	})
}

const dvdvUsage = `usage:
  xagw dvdv lookup (--org KEY | --abh BHKNZ) (--service URI | --xa-version V) [--server URL ...] [--file PATH] [--json]
  xagw dvdv fake-server --listen ADDR --data FILE [--token-lifetime D] [--client-cert PEM ...]

Run 'xagw dvdv lookup -h' or 'xagw dvdv fake-server -h' for all flags.
`

func runDVDV(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.Stderr, dvdvUsage)
		return 2
	}
	switch args[0] {
	case "lookup":
		return dvdvLookup(ctx, c, args[1:])
	case "fake-server":
		return dvdvFakeServer(ctx, c, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(c.Stderr, dvdvUsage)
		return 0
	}
	fmt.Fprintf(c.Stderr, "xagw dvdv: unknown subcommand %q\n\n%s", args[0], dvdvUsage)
	return 2
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func dvdvLookup(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw dvdv lookup", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	var servers stringList
	org := fs.String("org", "", "organisation key, prefix:id (e.g. abh:000100)")
	abh := fs.String("abh", "", "foreign-residents office key (BHKNZ), checked against the ABH code list; instead of --org")
	service := fs.String("service", "", "service specification URI")
	xaVersion := fs.String("xa-version", "", "XAusländer version (e.g. 1.21.1, 26.11): the OZG portal → ABH service; instead of --service")
	fs.Var(&servers, "server", "DVDV server base URL, repeatable in order of preference (default $"+envDVDVServers+")")
	file := fs.String("file", "", "answer from a directory file instead of DVDV servers")
	clientCert := fs.String("client-cert", "", "client certificate for standalone authentication: PKCS#12 (PIN from $"+envDVDVPIN+" or --pin-file) or PEM")
	clientKey := fs.String("client-key", "", "PEM private key, if not in --client-cert")
	pinFile := fs.String("pin-file", "", "file holding the PKCS#12 PIN")
	entryPath := fs.String("entry-path", "", "entry path (default: extern/standaloneauth/directory with a client certificate, intern/directory without)")
	insecure := fs.Bool("insecure-http", false, "allow plain-http servers that are not loopback")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	asJSON := fs.Bool("json", false, "print the route as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(c.Stderr, "xagw dvdv lookup: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}

	var key dvdv.OrgKey
	var err error
	switch {
	case *org != "" && *abh != "":
		return usageErr("give --org or --abh, not both")
	case *org != "":
		if key, err = dvdv.ParseOrgKey(*org); err != nil {
			return usageErr("%v", err)
		}
	case *abh != "":
		if key, err = dvdv.ABHKey(*abh); err != nil {
			return usageErr("%v", err)
		}
	default:
		return usageErr("--org or --abh is required")
	}
	uri := *service
	switch {
	case uri != "" && *xaVersion != "":
		return usageErr("give --service or --xa-version, not both")
	case *xaVersion != "":
		if uri, err = dvdv.OZGServiceURI(*xaVersion); err != nil {
			return usageErr("%v", err)
		}
	case uri == "":
		return usageErr("--service or --xa-version is required")
	}
	if len(servers) == 0 && *file == "" {
		for _, s := range strings.Split(c.Getenv(envDVDVServers), ",") {
			if s = strings.TrimSpace(s); s != "" {
				servers = append(servers, s)
			}
		}
	}
	if len(servers) > 0 && *file != "" {
		return usageErr("give --server or --file, not both")
	}

	logger := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var dir dvdv.Directory
	switch {
	case *file != "":
		d, err := dvdvfile.Load(*file, dvdvfile.Options{Logger: logger})
		if err != nil {
			fmt.Fprintf(c.Stderr, "xagw dvdv lookup: %v\n", err)
			return 1
		}
		dir = d
	case len(servers) > 0:
		cfg := dvdv.Config{Servers: servers, EntryPath: *entryPath, AllowInsecureHTTP: *insecure, Logger: logger}
		if *clientCert != "" {
			pin := c.Getenv(envDVDVPIN)
			if *pinFile != "" {
				b, err := os.ReadFile(*pinFile)
				if err != nil {
					fmt.Fprintf(c.Stderr, "xagw dvdv lookup: PIN file: %v\n", err)
					return 1
				}
				pin = strings.TrimRight(string(b), "\r\n")
			}
			if cfg.Auth, err = dvdv.LoadStandaloneAuth(*clientCert, *clientKey, pin); err != nil {
				fmt.Fprintf(c.Stderr, "xagw dvdv lookup: %v\n", err)
				return 1
			}
		}
		client, err := dvdv.NewClient(cfg)
		if err != nil {
			return usageErr("%v", err)
		}
		dir = client
	default:
		return usageErr("no DVDV server: give --server URL (or $%s) or --file PATH", envDVDVServers)
	}

	lctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	route, err := dir.Lookup(lctx, key, uri)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw dvdv lookup: no route for %s, service %s\n  %v\n", key, uri, err)
		if hint := lookupHint(err); hint != "" {
			fmt.Fprintf(c.Stderr, "  %s\n", hint)
		}
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(route); err != nil {
			fmt.Fprintf(c.Stderr, "xagw dvdv lookup: %v\n", err)
			return 1
		}
		return 0
	}
	printRoute(c.Stdout, route)
	return 0
}

// lookupHint tells the operator what to do next.
func lookupHint(err error) string {
	switch {
	case errors.Is(err, dvdv.ErrUnauthorized):
		return "Hint: check the client certificate (is it registered in the DVDV for your organisation?) and its PIN."
	case errors.Is(err, dvdv.ErrNoUsableCertificate):
		return "Hint: the recipient's certificates in the directory are unusable; the office must renew them with its DVDV maintaining authority."
	case errors.Is(err, dvdv.ErrNoService), errors.Is(err, dvdv.ErrUnknownOrganization):
		return "Hint: check the organisation key and the service URI; the office may not have registered this service (version) yet."
	case errors.Is(err, dvdv.ErrIncompleteService):
		return "Hint: the directory entry lacks OSCI connection data; contact the office's DVDV maintaining authority."
	case dvdv.IsTemporary(err):
		return "Hint: no DVDV server could be reached; this is usually temporary."
	}
	return ""
}

func printRoute(w io.Writer, r *dvdv.Route) {
	name := ""
	if r.OrganizationName != "" {
		name = " (" + r.OrganizationName + ")"
	}
	fmt.Fprintf(w, "Route for %s%s\n", r.Organization, name)
	row := func(label, value string) { fmt.Fprintf(w, "  %-24s %s\n", label+":", value) }
	row("service", r.ServiceURI)
	row("intermediary", r.IntermediaryURL)
	row("intermediary cipher", describeCert(r.IntermediaryCipherCert))
	row("intermediary signature", describeCert(r.IntermediarySignatureCert))
	addressee := r.AddresseeURI
	if addressee == "" {
		addressee = "(no addressee URI published)"
	}
	row("addressee", addressee)
	row("addressee cipher", describeCert(r.AddresseeCipherCert))
	row("addressee signature", describeCert(r.AddresseeSignatureCert))
	until := "open-ended"
	if !r.ValidUntil.IsZero() {
		until = r.ValidUntil.UTC().Format(time.RFC3339)
	}
	row("valid", r.ValidFrom.UTC().Format(time.RFC3339)+" until "+until)
	scenario := string(r.Scenario)
	if scenario == "" {
		scenario = "(not published by the directory)"
	}
	row("OSCI scenario", scenario)
	row("source", r.Source)
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

func describeCert(c *x509.Certificate) string {
	if c == nil {
		return "(none published)"
	}
	return fmt.Sprintf("%q, SHA-1 %s, valid until %s", c.Subject.CommonName, dvdv.Fingerprint(c), c.NotAfter.UTC().Format("2006-01-02"))
}

func dvdvFakeServer(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw dvdv fake-server", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	listen := fs.String("listen", "127.0.0.1:8484", "address to listen on")
	data := fs.String("data", "", "directory file to serve (YAML or JSON; reloaded when it changes)")
	lifetime := fs.Duration("token-lifetime", time.Hour, "lifetime of issued tokens")
	var certs stringList
	fs.Var(&certs, "client-cert", "PEM certificate that may obtain tokens, in addition to the file's clientCertificates (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *data == "" || fs.NArg() > 0 {
		fmt.Fprintln(c.Stderr, "xagw dvdv fake-server: --data FILE is required (and no other arguments)")
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw dvdv fake-server: %v\n", err)
		return 1
	}
	return serveFake(ctx, c, ln, *data, *lifetime, certs)
}

// serveFake serves the fake DVDV server on ln until ctx ends.
func serveFake(ctx context.Context, c *cli, ln net.Listener, data string, lifetime time.Duration, certFiles []string) int {
	logger := slog.New(slog.NewTextHandler(c.Stderr, nil))
	dir, err := dvdvfile.Load(data, dvdvfile.Options{WatchInterval: 2 * time.Second, Logger: logger})
	if err != nil {
		ln.Close()
		fmt.Fprintf(c.Stderr, "xagw dvdv fake-server: %v\n", err)
		return 1
	}
	opts := dvdvtest.Options{TokenLifetime: lifetime, Logger: logger}
	for _, p := range certFiles {
		cert, err := readCertPEM(p)
		if err != nil {
			ln.Close()
			fmt.Fprintf(c.Stderr, "xagw dvdv fake-server: --client-cert %s: %v\n", p, err)
			return 1
		}
		opts.ClientCertificates = append(opts.ClientCertificates, cert)
	}
	srv := &http.Server{Handler: dvdvtest.New(dir, opts), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(c.Stdout, "fake DVDV server on http://%s%s serving %s (%d client certificates may obtain tokens)\n",
		ln.Addr(), dvdv.DefaultContextPath, data, len(dir.ClientCertificates())+len(opts.ClientCertificates))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(c.Stderr, "xagw dvdv fake-server: %v\n", err)
		return 1
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return 0
	}
}

func readCertPEM(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}
