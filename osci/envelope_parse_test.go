package osci

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/sharedpath"
)

type captureMeta struct {
	MessageType string `json:"message_type"`
	Message     struct {
		Inner *captureInner `json:"inner"`
		captureInner
	} `json:"message"`
}

type captureInner struct {
	ControlBlock struct {
		Attributes map[string]string `json:"attributes"`
		Response   *string           `json:"Response"`
		Challenge  *string           `json:"Challenge"`
	} `json:"ControlBlock"`
	NonIntermediaryCertificates []struct {
		Element string `json:"element"`
		ID      string `json:"Id"`
	} `json:"NonIntermediaryCertificates"`
	OrderHeader *struct {
		MessageID       *string  `json:"MessageId"`
		Subject         *string  `json:"Subject"`
		ContentReceiver *string  `json:"ContentReceiver"`
		Selection       []string `json:"SelectionRule_MessageIds"`
	} `json:"order_header"`
}

// Every envelope of the interop pack parses into the values its meta.json
// records: type, ControlBlock, certificates with their Ids, order fields.
func TestParseEveryCapture(t *testing.T) {
	dir := filepath.Join(sharedpath.MustFind("osci"), "captures")
	metas, _ := filepath.Glob(filepath.Join(dir, "*.meta.json"))
	if len(metas) != 26 {
		t.Fatalf("%d meta files", len(metas))
	}
	for _, mf := range metas {
		base := strings.TrimSuffix(filepath.Base(mf), ".meta.json")
		var meta captureMeta
		if err := json.Unmarshal(readCapture(t, filepath.Base(mf)), &meta); err != nil {
			t.Fatal(err)
		}
		want := &meta.Message.captureInner
		soap := base + ".soap.xml"
		if strings.HasSuffix(base, "transport-encrypted") {
			want = meta.Message.Inner
			soap = base + ".inner.soap.xml"
			outer, err := ParseEnvelope(readCapture(t, base+".outer.soap.xml"))
			if err != nil || outer.Type != TypeEncrypted || outer.transport == nil {
				t.Fatalf("%s outer: %v %v", base, err, outer)
			}
		}
		env, err := ParseEnvelope(readCapture(t, soap))
		if err != nil {
			t.Errorf("%s: %v", soap, err)
			continue
		}
		if env.Type.String() != meta.MessageType {
			t.Errorf("%s: type %s, want %s", soap, env.Type, meta.MessageType)
		}
		if env.SignatureBlock != "ClientSignature" || env.signature == nil || env.BodyID != "body" {
			t.Errorf("%s: signature %q body %q", soap, env.SignatureBlock, env.BodyID)
		}
		cb := env.ControlBlock
		a := want.ControlBlock.Attributes
		if cb.ConversationID != a["ConversationId"] || (a["SequenceNumber"] == "" && cb.SequenceNumber != NoSequence) ||
			(a["SequenceNumber"] != "" && itoa(cb.SequenceNumber) != a["SequenceNumber"]) ||
			cb.Challenge != *want.ControlBlock.Challenge || (want.ControlBlock.Response != nil && cb.Response != *want.ControlBlock.Response) {
			t.Errorf("%s: control block %v, meta %v", soap, cb, want.ControlBlock)
		}
		if len(env.NonIntermediary) != len(want.NonIntermediaryCertificates) {
			t.Errorf("%s: %d certificates, want %d", soap, len(env.NonIntermediary), len(want.NonIntermediaryCertificates))
		}
		for i, c := range want.NonIntermediaryCertificates {
			if i < len(env.NonIntermediary) && (env.NonIntermediary[i].Element != c.Element || env.NonIntermediary[i].ID != c.ID) {
				t.Errorf("%s: certificate %d = %s/%s, want %s/%s", soap, i, env.NonIntermediary[i].Element, env.NonIntermediary[i].ID, c.Element, c.ID)
			}
			if i < len(env.NonIntermediary) && CertID(strings.SplitN(c.ID, "_", 2)[0], map[bool]string{true: "signature", false: "cipher"}[strings.HasPrefix(c.Element, "Signature")], env.NonIntermediary[i].Cert) != c.ID {
				t.Errorf("%s: CertID does not reproduce %s", soap, c.ID)
			}
		}
		if o := want.OrderHeader; o != nil {
			if o.MessageID != nil && env.MessageID != *o.MessageID {
				t.Errorf("%s: MessageId %q, want %q", soap, env.MessageID, *o.MessageID)
			}
			if o.Subject != nil && env.Subject != *o.Subject {
				t.Errorf("%s: Subject %q", soap, env.Subject)
			}
			if o.ContentReceiver != nil && env.ContentReceiver != *o.ContentReceiver {
				t.Errorf("%s: ContentReceiver %q", soap, env.ContentReceiver)
			}
			if len(o.Selection) > 0 && (env.Selection == nil || !reflect.DeepEqual(env.Selection.MessageIDs, o.Selection)) {
				t.Errorf("%s: selection %v, want %v", soap, env.Selection, o.Selection)
			}
		}
		if env.Features == nil || !reflect.DeepEqual(env.Features.Features, DefaultFeatures) {
			t.Errorf("%s: features %v", soap, env.Features)
		}
		// Every header block is something the signature must cover.
		for _, id := range env.HeaderIDs {
			if id == "clientsignature" {
				t.Errorf("%s: signature block listed as a signable header", soap)
			}
		}
	}
}

// Parsing what the composer wrote gives back the message it was given.
func TestParseRoundTripAllTypes(t *testing.T) {
	for typ, m := range exampleMessages(t) {
		env, err := composeEnvelope(m, bodyFor(typ))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEnvelope(env.render(nil))
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		want := *m
		if want.Languages == "" && typ.IsRequest() {
			want.Languages = "de"
		}
		if typ == TypeResponseToFetchProcessCard {
			// the echo carries the schema-compatible vocabulary only
			want.QuantityLimit = 0
		}
		normalizeTimes(&want)
		g := got.Message
		normalizeTimes(&g)
		if len(want.NonIntermediary) > 0 {
			want.NonIntermediary = sortNonIntermediary(want.NonIntermediary)
		}
		g.NonIntermediary = certsComparable(t, g.NonIntermediary, want.NonIntermediary)
		g.Intermediary = certsComparable(t, g.Intermediary, want.Intermediary)
		gv, wv := reflect.ValueOf(g), reflect.ValueOf(want)
		for i := 0; i < gv.NumField(); i++ {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s: round trip changes %s:\n got: %#v\nwant: %#v", typ, gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
		if len(bodyFor(typ)) > 0 && len(got.contain) != 1 {
			t.Errorf("%s: content package not found", typ)
		}
	}
}

// certsComparable checks that got carries the same certificates (by DER) as
// want and returns want's entries for the deep comparison of the rest.
func certsComparable(t *testing.T, got, want []CertEntry) []CertEntry {
	t.Helper()
	if len(got) != len(want) || len(got) == 0 {
		return got
	}
	out := make([]CertEntry, len(got))
	for i := range got {
		if got[i].Element != want[i].Element || got[i].ID != want[i].ID || !bytes.Equal(got[i].Cert.Raw, want[i].Cert.Raw) {
			return got
		}
		out[i] = want[i]
	}
	return out
}

// normalizeTimes makes times comparable with reflect.DeepEqual.
func normalizeTimes(m *Message) {
	fix := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	fixTS := func(ts *Timestamp) {
		if ts != nil {
			fix(&ts.Plain)
		}
	}
	fixCard := func(p *ProcessCardBundle) {
		fix(&p.RecentModification)
		fixTS(p.Creation)
		fixTS(p.Forwarding)
		fixTS(p.Reception)
		for i := range p.Inspections {
			fixTS(&p.Inspections[i].Timestamp)
		}
	}
	for i := range m.ProcessCards {
		c := m.ProcessCards[i]
		fixCard(&c)
		m.ProcessCards[i] = c
	}
	if m.ReplyProcessCard != nil {
		c := *m.ReplyProcessCard
		fixCard(&c)
		m.ReplyProcessCard = &c
	}
	if m.Selection != nil {
		s := *m.Selection
		fix(&s.ReceptionOfDelivery)
		fix(&s.RecentModification)
		m.Selection = &s
	}
}

func TestParseRejects(t *testing.T) {
	ok := string(stripSignature(readCapture(t, "getMessageId.plain.soap.xml")))
	cases := map[string]string{
		"not xml":            "<soap:Envelope",
		"dtd":                `<!DOCTYPE x [<!ENTITY a "b">]>` + ok[strings.Index(ok, "<soap:Envelope"):],
		"wrong root":         `<a/>`,
		"duplicate id":       strings.Replace(ok, `Id="desiredlanguages"`, `Id="controlblock"`, 1),
		"no order":           strings.Replace(ok, `<osci:getMessageId></osci:getMessageId>`, ``, 1),
		"bad sequence":       strings.Replace(ok, `SequenceNumber="0"`, `SequenceNumber="x"`, 1),
		"missing challenge":  strings.Replace(ok, `<osci:Challenge>0z8uhixTcOx4lw==</osci:Challenge>`, ``, 1),
		"must understand":    strings.Replace(ok, `<soap:Header>`, `<soap:Header><x:y xmlns:x="urn:x" xmlns:soap="`+NSSOAP+`" soap:mustUnderstand="1"/>`, 1),
		"bad certificate":    strings.Replace(ok, `<ds:X509Certificate>MIIF`, `<ds:X509Certificate>AAAA`, 1),
		"two orders in body": strings.Replace(ok, `<osci:getMessageId></osci:getMessageId>`, `<osci:getMessageId></osci:getMessageId><osci:initDialog></osci:initDialog>`, 1),
	}
	for name, doc := range cases {
		if _, err := ParseEnvelope([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if testing.Verbose() {
			t.Logf("%s: %v", name, err)
		}
	}
}
