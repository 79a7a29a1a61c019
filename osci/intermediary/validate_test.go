package intermediary

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
)

var (
	schemasOnce sync.Once
	schemas     *osci.Schemas
	schemasErr  error
)

func testSchemas(t testing.TB) *osci.Schemas {
	schemasOnce.Do(func() {
		schemas, schemasErr = osci.LoadSchemas(filepath.Join(sharedpath.MustFind("osci"), "schema"))
	})
	if schemasErr != nil {
		t.Fatal(schemasErr)
	}
	return schemas
}

var outerXML = regexp.MustCompile(`(?s)<\?xml.*?</soap:Envelope>`)

// validating wraps an OSCI endpoint: every request and every response that
// passes is opened with all the pack's cipher keys and its envelopes (outer
// transport envelope and inner envelope) validated against the OSCI XSDs.
// The types seen are recorded.
type validating struct {
	t    *testing.T
	next http.Handler
	mu   sync.Mutex
	seen map[osci.MessageType]int
}

func (v *validating) check(label string, data []byte) {
	keys := []*keystore.Identity{identity(v.t, "osci_manager_cipher_4096"), identity(v.t, "bob_cipher_4096"), identity(v.t, "carol_cipher_4096")}
	o, err := osci.Open(bytes.NewReader(data), osci.OpenOptions{Keys: keys, AllowUnsigned: true})
	if o == nil {
		v.t.Errorf("%s: cannot open: %v", label, err)
		return
	}
	defer o.Close()
	s := testSchemas(v.t)
	if o.Transport != nil {
		if err := s.Validate(osci.TypeEncrypted, outerXML.Find(data)); err != nil {
			v.t.Errorf("%s outer envelope: %v", label, err)
		}
	}
	if err := s.Validate(o.Type, o.Raw()); err != nil {
		v.t.Errorf("%s %s: %v", label, o.Type, err)
	}
	v.mu.Lock()
	v.seen[o.Type]++
	v.mu.Unlock()
}

func (v *validating) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := io.ReadAll(r.Body)
	if err != nil {
		v.t.Error(err)
		return
	}
	v.check("request", req)
	r.Body = io.NopCloser(bytes.NewReader(req))
	rec := httptest.NewRecorder()
	v.next.ServeHTTP(rec, r)
	v.check("response", rec.Body.Bytes())
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// Every message the client, the intermediary and the passive recipient
// exchange in all scenarios — requests and responses of every type, plain
// and transport-encrypted — validates against the official OSCI schemas.
func TestEveryExchangedEnvelopeValidates(t *testing.T) {
	e := newEnv(t)
	seen := map[osci.MessageType]int{}
	v := &validating{t: t, next: e.im, seen: seen}
	e.srv.Config.Handler = v
	p := e.passive("urn:abh:sync", func(o *osci.Opened) (*osci.Delivery, error) {
		return &osci.Delivery{Subject: "Antwort", Containers: []osci.ContentContainer{{Contents: []osci.Content{{Data: []byte("ok")}}}}}, nil
	})
	p.srv.Config.Handler = &validating{t: t, next: p.srv.Config.Handler, seen: seen}

	for _, plain := range []bool{false, true} {
		sender, bob := e.client("carol_cipher_4096", plain), e.client("bob_cipher_4096", plain)
		id, err := sender.GetMessageID(ctx())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sender.StoreDelivery(ctx(), newDelivery(t, id, "a", []byte("b"))); err != nil {
			t.Fatal(err)
		}
		id2, _ := sender.GetMessageID(ctx())
		if _, err := sender.ForwardDelivery(ctx(), "urn:abh:sync", newDelivery(t, id2, "c", []byte("d"))); err != nil {
			t.Fatal(err)
		}
		if plain {
			// Dialogs, mailboxes and process cards need transport
			// encryption: refused with a (valid) fault.
			if _, err := bob.FetchDelivery(ctx(), osci.FetchSelection{MessageID: id}); !errors.Is(err, osci.ErrCode(osci.CodeNoValidOrderData)) {
				t.Fatalf("plain fetch: %v", err)
			}
			continue
		}
		f, err := bob.FetchDelivery(ctx(), osci.FetchSelection{MessageID: id})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if _, err := sender.FetchProcessCard(ctx(), id); err != nil {
			t.Fatal(err)
		}
		id3, _ := sender.GetMessageID(ctx())
		if _, err := sender.PartialStoreDelivery(ctx(), newDelivery(t, id3, "g", bytes.Repeat([]byte("h"), 5000)), 4); err != nil {
			t.Fatal(err)
		}
		m, err := sender.MediateDelivery(ctx(), "urn:abh:sync", newDelivery(t, "", "e", []byte("f")))
		if err != nil {
			t.Fatal(err)
		}
		m.Response.Close()
		f, err = bob.PartialFetchDelivery(ctx(), id3, 4)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for typ := osci.TypeInitDialog; typ < osci.TypeEncrypted; typ++ {
		if seen[typ] == 0 {
			t.Errorf("no %s exchanged", typ)
		}
	}
}

// With Config.Schemas the intermediary validates every request: the
// reference library's own getMessageId is accepted, the same message with
// an attribute the XSD does not allow is refused with 9100 before anything
// else is looked at.
func TestSchemaValidatingIntermediary(t *testing.T) {
	im, err := New(Config{DataDir: t.TempDir(), Signer: identity(t, "osci_manager_signature_4096"), Cipher: identity(t, "osci_manager_cipher_4096"),
		Policy: policy(t), Logger: quietLogger(), Schemas: testSchemas(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	srv := httptest.NewServer(im)
	defer srv.Close()
	capture, err := os.ReadFile(filepath.Join(sharedpath.MustFind("osci"), "captures", "getMessageId.plain.wire"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) *osci.Opened {
		resp, err := http.Post(srv.URL, "text/xml", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		o, err := osci.Open(resp.Body, osci.OpenOptions{AllowUnsigned: true})
		if o == nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		return o
	}
	o := post(capture)
	if o.Type != osci.TypeResponseToGetMessageID || o.MessageID == "" || o.Signature == nil || !o.Signature.OK() {
		t.Fatalf("reference getMessageId: %s %q %v", o.Type, o.MessageID, o.Fault)
	}
	bad := bytes.Replace(capture, []byte(`LanguagesList="de"`), []byte(`LanguagesList="de" Unknown="1"`), 1)
	if bytes.Equal(bad, capture) {
		t.Fatal("capture changed: DesiredLanguages not found")
	}
	o = post(bad)
	if o.Type != osci.TypeFault || o.Fault == nil || o.Fault.OSCICode != osci.CodeStructureInvalid {
		t.Fatalf("schema-invalid request: %s %+v", o.Type, o.Fault)
	}
	// Without schemas the same request gets past the structure check and
	// fails on its (now broken) signature instead.
	im.cfg.Schemas = nil
	o = post(bad)
	if o.Type == osci.TypeFault && o.Fault.OSCICode == osci.CodeStructureInvalid {
		t.Fatalf("without schemas: %+v", o.Fault)
	}
	t.Logf("without schemas: %s %v %v", o.Type, o.Feedback, o.Fault)
}
