package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

func init() {
	register(&command{
		Name:    "intermediary",
		Summary: "run a durable OSCI test intermediary (SQLite) for tests and local use",
		Run:     runIntermediary,
	})
}

const intermediaryUsage = `usage:
  xagw intermediary --listen ADDR --data DIR --sig-key KEY --cipher-key KEY [--pin-file F] [--trust CA.pem ...] [--recipient URI=URL ...] [--schemas DIR]
  xagw intermediary --listen ADDR --data DIR --test-pki DIR [--test-pki-bits 2048] [--recipient URI=URL ...]

KEY is a PKCS#12 file (PIN from --pin-file or $XAGW_PIN) or CERT.pem,KEY.pem.
--test-pki generates a project test PKI into DIR on first use (index.json,
PEM keys) and runs the intermediary with its intermediary keys, trusting its
root CA; clients use the sender/addressee keys from the same folder.
`

func runIntermediary(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("xagw intermediary", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	listen := fs.String("listen", "127.0.0.1:8420", "address to listen on")
	data := fs.String("data", "", "data folder (SQLite database and attachment files)")
	sigKey := fs.String("sig-key", "", "signature key of the intermediary (PKCS#12 or CERT.pem,KEY.pem)")
	cipherKey := fs.String("cipher-key", "", "cipher key of the intermediary (PKCS#12 or CERT.pem,KEY.pem)")
	pinFile := fs.String("pin-file", "", "file holding the PKCS#12 PIN (default $"+envPIN+")")
	var trust, recipients osciList
	fs.Var(&trust, "trust", "PEM file of CA certificates whose clients are accepted, repeatable (default: any certificate whose signature verifies)")
	fs.Var(&recipients, "recipient", "passive recipient for forward/mediate orders as URI=URL, repeatable")
	schemaDir := fs.String("schemas", "", "validate every request against the OSCI XSDs in this folder")
	pkiDir := fs.String("test-pki", "", "use (and on first use generate) a test PKI in this folder")
	pkiBits := fs.Int("test-pki-bits", 4096, "RSA key size when generating the test PKI")
	retention := fs.Duration("retention", 30*24*time.Hour, "how long deliveries are kept after their last change")
	fs.Usage = func() { fmt.Fprint(c.Stderr, intermediaryUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(c.Stderr, "xagw intermediary: "+format+"\n", a...)
		return 2
	}
	if *data == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	cfg := intermediary.Config{DataDir: *data, Retention: *retention,
		Logger: slog.New(slog.NewTextHandler(c.Stderr, nil)), Recipients: map[string]string{}}
	switch {
	case *pkiDir != "":
		pki, err := loadOrGenerateTestPKI(*pkiDir, *pkiBits, c)
		if err != nil {
			return fail("test PKI: %v", err)
		}
		sig, cip := pki.Entity("intermediary-signature"), pki.Entity("intermediary-cipher")
		if sig == nil || cip == nil {
			return fail("test PKI in %s has no intermediary keys", *pkiDir)
		}
		cfg.Signer, cfg.Cipher, cfg.Policy = sig.Identity(), cip.Identity(), pki.Policy()
	case *sigKey != "" && *cipherKey != "":
		pin, err := readPIN(c, *pinFile)
		if err != nil {
			return fail("%v", err)
		}
		ids, err := loadKeyArgs([]string{*sigKey, *cipherKey}, pin)
		clear(pin)
		if err != nil {
			return fail("%v", err)
		}
		cfg.Signer, cfg.Cipher = ids[0], ids[1]
		if len(trust) > 0 {
			pool, err := keystore.CertPoolFromFiles(trust...)
			if err != nil {
				return fail("--trust: %v", err)
			}
			cfg.Policy = &keystore.Policy{Roots: pool}
		}
	default:
		fs.Usage()
		return 2
	}
	for _, r := range recipients {
		uri, url, ok := strings.Cut(r, "=")
		if !ok || uri == "" || url == "" {
			return fail("--recipient %q: want URI=URL", r)
		}
		cfg.Recipients[uri] = url
	}
	if *schemaDir != "" {
		s, err := osci.LoadSchemas(*schemaDir)
		if err != nil {
			return fail("--schemas: %v", err)
		}
		defer s.Close()
		cfg.Schemas = s
	}
	im, err := intermediary.New(cfg)
	if err != nil {
		return fail("%v", err)
	}
	defer im.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail("%v", err)
	}
	srv := &http.Server{Handler: im, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(c.Stdout, "OSCI intermediary listening on http://%s/ (data in %s)\n", ln.Addr(), *data)
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		select {
		case err := <-done:
			if errors.Is(err, http.ErrServerClosed) {
				return 0
			}
			fmt.Fprintf(c.Stderr, "xagw intermediary: %v\n", err)
			return 1
		case <-purge.C:
			if n, err := im.PurgeExpired(ctx); err != nil {
				cfg.Logger.Warn("purge failed", "error", err)
			} else if n > 0 {
				cfg.Logger.Info("purged expired deliveries", "count", n)
			}
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := srv.Shutdown(shutdown)
			cancel()
			if err != nil {
				fmt.Fprintf(c.Stderr, "xagw intermediary: shutdown: %v\n", err)
				return 1
			}
			return 0
		}
	}
}

// loadKeyArgs loads identities given as PKCS#12 files or CERT.pem,KEY.pem.
func loadKeyArgs(args []string, pin []byte) ([]*keystore.Identity, error) {
	var out []*keystore.Identity
	for _, a := range args {
		var ids []*keystore.Identity
		var err error
		if strings.Contains(a, ",") {
			ids, err = loadIdentities(nil, []string{a}, nil)
		} else {
			ids, err = loadIdentities([]string{a}, nil, pin)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// loadOrGenerateTestPKI loads the test PKI in dir, generating it first if
// the folder has none.
func loadOrGenerateTestPKI(dir string, bits int, c *cli) (*testpki.PKI, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return testpki.Load(dir)
	}
	fmt.Fprintf(c.Stderr, "xagw intermediary: generating a test PKI (RSA %d) in %s …\n", bits, dir)
	pki, err := testpki.Generate(testpki.Options{RSABits: bits})
	if err != nil {
		return nil, err
	}
	if err := pki.WriteDir(dir); err != nil {
		return nil, err
	}
	return pki, nil
}
