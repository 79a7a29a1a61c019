package osci

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
)

var (
	testSchemasOnce sync.Once
	testSchemas     *Schemas
	testSchemasErr  error
)

// schemasForTest compiles the official OSCI schema set from ../shared once per
// test binary.
func schemasForTest(t testing.TB) *Schemas {
	t.Helper()
	testSchemasOnce.Do(func() {
		testSchemas, testSchemasErr = LoadSchemas(filepath.Join(sharedpath.MustFind("osci"), "schema"))
	})
	if testSchemasErr != nil {
		t.Fatal(testSchemasErr)
	}
	return testSchemas
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testSchemas != nil {
		testSchemas.Close()
	}
	os.Exit(code)
}

// The loader must accept every envelope the reference implementation wrote:
// plain, inner and outer transport envelopes of all captures.
func TestSchemasValidateEveryCapture(t *testing.T) {
	s := schemasForTest(t)
	dir := filepath.Join(sharedpath.MustFind("osci"), "captures")
	files, _ := filepath.Glob(filepath.Join(dir, "*.soap.xml"))
	if len(files) < 39 {
		t.Fatalf("found only %d capture envelopes", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		typ := TypeEncrypted
		if !strings.Contains(f, ".outer.") {
			name := filepath.Base(f)
			name = name[:strings.IndexAny(name, ".-")]
			typ = typeByOrder(NSOSCI, name)
		}
		if err := s.Validate(typ, data); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	// Negative control: a storeDelivery is not a getMessageId.
	data, _ := os.ReadFile(filepath.Join(dir, "storeDelivery-a.plain.soap.xml"))
	err := s.Validate(TypeGetMessageID, data)
	if se, ok := err.(*SchemaError); !ok || !strings.Contains(se.Error(), "ContentPackage") {
		t.Fatalf("storeDelivery validated as getMessageId: %v", err)
	}
}
