package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
)

func osciPack(t *testing.T) (captures, certs string, env map[string]string) {
	dir := sharedpath.MustFind("osci")
	pin, err := os.ReadFile(filepath.Join(dir, "certs", "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "captures"), filepath.Join(dir, "certs"), map[string]string{envPIN: strings.TrimSpace(string(pin))}
}

// `xagw osci open` on a real transport-encrypted capture: decrypts with the
// given keys, verifies every reference, reports contents and attachments.
func TestOSCIOpenCapture(t *testing.T) {
	captures, certs, env := osciPack(t)
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, env, "osci", "open",
		"--key", filepath.Join(certs, "osci_manager_cipher_4096.p12"), "--key", filepath.Join(certs, "dave_cipher_4096.p12"),
		"--trust", filepath.Join(certs, "pem", "governikus-test-ca-chain.pem"), "--out", out,
		filepath.Join(captures, "storeDelivery-a.transport-encrypted.wire"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"message type:  storeDelivery", "message id:    interop-msgid-storeDelivery-a",
		"ClientSignature (http://www.w3.org/2001/04/xmldsig-more#rsa-sha256): OK",
		"subject:     CN=Alice Signature 4096", "certificate: trusted",
		"reference cid:attachment-a-enc.txt", "reference #body",
		"container contentcontainer1 (decrypted from encdata_0 for CN=Dave Cipher 4096",
		"bf2ef8b626178aaf464679f92c0f57fef30272a4b0796e8f89f8b756e1c34191",
		"d3f59f810ae0c1bb0216313cacf77b9d12a65319b8bf8557054e740b5ef7fdda",
		"result:        OK",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	got, err := os.ReadFile(filepath.Join(out, "attachment-a-enc.txt"))
	if err != nil || string(got) != "Interop (a): encrypted attachment bytes for dave." {
		t.Fatalf("--out attachment %q %v", got, err)
	}
	// JSON: every reference with its result.
	code, stdout, _ = runCLI(t, env, "osci", "open", "--json", "--key", filepath.Join(certs, "bob_cipher_4096.p12"),
		filepath.Join(captures, "storeDelivery-c.plain.wire"))
	var rep struct {
		Type      string
		MessageID string `json:"message_id"`
		Signature struct {
			Method     string
			References []struct {
				URI string
				OK  bool
			}
		}
		Containers []struct{ Signatures []struct{ OK bool } }
		OK         bool
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, stdout)
	}
	if rep.Type != "storeDelivery" || !strings.HasSuffix(rep.Signature.Method, "sha256-rsa-MGF1") || len(rep.Signature.References) != 9 || !rep.OK ||
		len(rep.Containers) != 1 || !rep.Containers[0].Signatures[0].OK {
		t.Fatalf("report %+v", rep)
	}
}

// A tampered message makes the command exit 1 and name the failure; no PIN
// means a usage error, never a prompt or a flag.
func TestOSCIOpenFailures(t *testing.T) {
	captures, certs, env := osciPack(t)
	data, err := os.ReadFile(filepath.Join(captures, "storeDelivery-a.plain.wire"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.wire")
	os.WriteFile(bad, []byte(strings.Replace(string(data), "Interop storeDelivery (a)", "Interop storeDelivery (x)", 1)), 0o600)
	code, stdout, _ := runCLI(t, env, "osci", "open", bad)
	if code != 1 || !strings.Contains(stdout, "reference #storedelivery") || !strings.Contains(stdout, "digest mismatch") || !strings.Contains(stdout, "result:        FAILED") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	code, _, stderr := runCLI(t, map[string]string{envPIN: ""}, "osci", "open", "--key", filepath.Join(certs, "bob_cipher_4096.p12"), bad)
	if code != 2 || !strings.Contains(stderr, "no PIN") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t, env, "osci", "open"); code != 2 {
		t.Fatalf("no file: exit %d", code)
	}
}
