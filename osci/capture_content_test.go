package osci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/keystore"
)

type metaContainer struct {
	ID         string `json:"Id"`
	Signatures []struct {
		References []struct{ URI string } `json:"references"`
	} `json:"signatures"`
	Contents []struct {
		ID     string `json:"Id"`
		Bytes  int64  `json:"bytes"`
		UTF8   string `json:"utf8"`
		SHA256 string `json:"sha256"`
	} `json:"contents"`
	Attachments []struct {
		Href            string `json:"href"`
		Encrypted       bool   `json:"encrypted"`
		PlaintextBytes  int64  `json:"plaintext_bytes"`
		PlaintextSHA256 string `json:"plaintext_sha256"`
	} `json:"attachments"`
}

type metaMessage struct {
	Containers    []metaContainer `json:"containers"`
	EncryptedData []struct {
		ID         string `json:"Id"`
		Recipients []struct {
			Reader           string        `json:"reader"`
			DecryptedFile    string        `json:"decrypted_file"`
			ContentContainer metaContainer `json:"ContentContainer"`
		} `json:"recipients"`
	} `json:"encrypted_data"`
}

type metaFile struct {
	Message struct {
		metaMessage
		Inner *metaMessage `json:"inner"`
	} `json:"message"`
}

// readerKeys are the cipher keys of every reader in the pack.
func readerKeys(t testing.TB) []*keystore.Identity {
	return []*keystore.Identity{
		sharedIdentity(t, "osci_manager_cipher_4096"),
		sharedIdentity(t, "bob_cipher_4096"),
		sharedIdentity(t, "dave_cipher_4096"),
	}
}

// Every capture of the interop pack, plain and transport-encrypted:
// transport-decrypted (the inner envelope equals the pack's), every
// reference verified, every EncryptedData decrypted to the pack's
// ContentContainer, every content and attachment equal to the MANIFEST's
// plaintext, every container signature verified (PSS in (c), the signed
// container inside encrypted data in (f)).
func TestOpenEveryCaptureCompletely(t *testing.T) {
	keys := readerKeys(t)
	large, err := os.ReadFile(filepath.Join(sharedpath.MustFind("osci"), "payloads", "large-1MiB.bin"))
	if err != nil {
		t.Fatal(err)
	}
	largeSum := sha256.Sum256(large)
	for _, form := range []string{"plain", "transport-encrypted"} {
		for _, name := range captureNames(t, form) {
			o, err := Open(bytes.NewReader(readCapture(t, name+".wire")), OpenOptions{Keys: keys})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				if o == nil {
					continue
				}
			}
			var mf metaFile
			if err := json.Unmarshal(readCapture(t, name+".meta.json"), &mf); err != nil {
				t.Fatal(err)
			}
			meta := &mf.Message.metaMessage
			if form == "transport-encrypted" {
				meta = mf.Message.Inner
				if o.Transport == nil || !bytes.Equal(o.Transport.Recipient.Raw, keys[0].Certificate.Raw) {
					t.Errorf("%s: transport %+v", name, o.Transport)
				}
				if want := readCapture(t, name+".inner.soap.xml"); !bytes.Equal(o.Raw(), want) {
					t.Errorf("%s: decrypted inner envelope differs from the pack's", name)
				}
			} else if o.Transport != nil {
				t.Errorf("%s: plain message reported as encrypted", name)
			}
			if !o.Signature.OK() {
				t.Errorf("%s: ClientSignature %v", name, o.Signature.Err)
			}
			if len(o.Undecrypted) != 0 {
				t.Errorf("%s: undecrypted %v", name, o.Undecrypted)
			}
			want := map[string]metaContainer{}
			for _, c := range meta.Containers {
				want[c.ID] = c
			}
			for _, ed := range meta.EncryptedData {
				for _, r := range ed.Recipients {
					want[r.ContentContainer.ID] = r.ContentContainer
					for _, c := range o.Containers {
						if c.EncryptedDataID == ed.ID && !bytes.Equal(c.XML, readCapture(t, strings.TrimPrefix(r.DecryptedFile, "captures/"))) {
							t.Errorf("%s: %s decrypted to different bytes than %s", name, ed.ID, r.DecryptedFile)
						}
					}
				}
			}
			if len(o.Containers) != len(want) {
				t.Errorf("%s: %d containers, want %d", name, len(o.Containers), len(want))
			}
			for _, c := range o.Containers {
				w, ok := want[c.ID]
				if !ok {
					t.Errorf("%s: unexpected container %s", name, c.ID)
					continue
				}
				if len(c.Signatures) != len(w.Signatures) {
					t.Errorf("%s: container %s has %d signatures, want %d", name, c.ID, len(c.Signatures), len(w.Signatures))
				}
				for _, s := range c.Signatures {
					if !s.OK() || len(s.References) != len(w.Signatures[0].References) {
						t.Errorf("%s: container %s signature %v", name, c.ID, s.Err)
					}
				}
				var inline []*OpenedContent
				for _, oc := range c.Contents {
					if oc.Attachment == nil {
						inline = append(inline, oc)
					}
				}
				if len(inline) != len(w.Contents) {
					t.Errorf("%s: container %s has %d inline contents, want %d", name, c.ID, len(inline), len(w.Contents))
					continue
				}
				for i, wc := range w.Contents {
					if string(inline[i].Data) != wc.UTF8 || hex.EncodeToString(inline[i].SHA256) != wc.SHA256 {
						t.Errorf("%s: content %s = %q, want %q", name, wc.ID, inline[i].Data, wc.UTF8)
					}
				}
				for _, wa := range w.Attachments {
					cid := strings.TrimPrefix(wa.Href, "cid:")
					a := o.attachment(cid)
					if a == nil || a.Encrypted != wa.Encrypted || a.Size != wa.PlaintextBytes || hex.EncodeToString(a.SHA256) != wa.PlaintextSHA256 {
						t.Errorf("%s: attachment %s = %+v, want %+v", name, cid, a, wa)
						continue
					}
					data, err := a.Bytes()
					if err != nil {
						t.Errorf("%s: %s: %v", name, cid, err)
					}
					if sum := sha256.Sum256(data); a.Size == int64(len(large)) && sum != largeSum {
						t.Errorf("%s: %s differs from payloads/large-1MiB.bin", name, cid)
					}
				}
			}
			o.Close()
		}
	}
}
