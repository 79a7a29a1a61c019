package osci

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/keystore"
)

var (
	sharedIDMu sync.Mutex
	sharedIDs  = map[string]*keystore.Identity{}
)

// sharedIdentity loads a PKCS#12 identity of the interop pack (PIN from
// certs/PIN.txt), once per test binary.
func sharedIdentity(t testing.TB, name string) *keystore.Identity {
	t.Helper()
	sharedIDMu.Lock()
	defer sharedIDMu.Unlock()
	if id, ok := sharedIDs[name]; ok {
		return id
	}
	dir := filepath.Join(sharedpath.MustFind("osci"), "certs")
	pin, err := os.ReadFile(filepath.Join(dir, "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := keystore.LoadPKCS12File(filepath.Join(dir, name+".p12"), bytes.TrimSpace(pin))
	if err != nil {
		t.Fatal(err)
	}
	sharedIDs[name] = id
	return id
}
