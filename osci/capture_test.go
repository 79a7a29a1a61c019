package osci

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/keystore"
)

type metaRefs struct {
	Message struct {
		ClientSignature *struct {
			References []struct {
				URI string `json:"URI"`
			} `json:"references"`
		} `json:"client_signature"`
		Inner *struct {
			ClientSignature *struct {
				References []struct {
					URI string `json:"URI"`
				} `json:"references"`
			} `json:"client_signature"`
		} `json:"inner"`
	} `json:"message"`
}

func captureNames(t *testing.T, form string) []string {
	files, _ := filepath.Glob(filepath.Join(sharedpath.MustFind("osci"), "captures", "*."+form+".wire"))
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".wire"))
	}
	if len(out) != 13 {
		t.Fatalf("%d %s captures", len(out), form)
	}
	return out
}

// Every plain capture opens: the ClientSignature verifies with every
// reference (the same URIs the meta.json lists) and strict coverage, and
// the signed plain containers verify.
func TestOpenPlainCaptures(t *testing.T) {
	for _, name := range captureNames(t, "plain") {
		o, err := Open(bytes.NewReader(readCapture(t, name+".wire")), OpenOptions{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var meta metaRefs
		if err := json.Unmarshal(readCapture(t, name+".meta.json"), &meta); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, r := range meta.Message.ClientSignature.References {
			want[r.URI] = true
		}
		if !o.Signature.OK() || len(o.Signature.References) != len(want) {
			t.Errorf("%s: signature %+v", name, o.Signature)
		}
		for _, r := range o.Signature.References {
			if !want[r.URI] || !r.OK {
				t.Errorf("%s: reference %s ok=%v (expected by meta: %v)", name, r.URI, r.OK, want[r.URI])
			}
		}
		if got := hex.EncodeToString(o.Signature.Signer.Raw[:8]); got == "" {
			t.Error("no signer")
		}
		for _, c := range o.Containers {
			for _, s := range c.Signatures {
				if !s.OK() {
					t.Errorf("%s: container %s signature: %v", name, c.ID, s.Err)
				}
			}
		}
		o.Close()
	}
}

var _ = keystore.UsageSignature
