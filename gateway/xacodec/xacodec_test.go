package xacodec_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

var (
	once    sync.Once
	bundle  *schemas.Bundle
	openErr error
)

func codec(t testing.TB) *xacodec.Codec {
	once.Do(func() { bundle, openErr = schemas.OpenDefault() })
	if openErr != nil {
		t.Fatal(openErr)
	}
	c, err := xacodec.New(bundle, EVSender())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// EVSender is a fictitious online service.
func EVSender() *xauslaender.Sender {
	return &xauslaender.Sender{Produkt: "xagw-test", Produkthersteller: "xagw", Test: true,
		Autor:          xauslaender.Behoerde{Verzeichnisdienst: "DVDV", Kennung: "ozgev:000000000001", Name: "Online-Dienst (Test)"},
		Erreichbarkeit: []xauslaender.Erreichbarkeit{{Kanal: "01", KanalListVersion: "3", Kennung: "poststelle@online-dienst.example.org"}},
		Anschrift:      xauslaender.Anschrift{Strasse: "Musterallee", Hausnummer: "7", Postleitzahl: "10117", Ort: "Berlin"},
		Now:            func() time.Time { return time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC) }}
}

// abhSender is the office answering.
func abhSender() *xauslaender.Sender {
	return &xauslaender.Sender{Produkt: "Fachverfahren (Test)", Produkthersteller: "Test GmbH", Test: true,
		Autor:          xauslaender.Behoerde{Verzeichnisdienst: "DVDV", Kennung: "abh:000100", Name: "STV Aalen"},
		Erreichbarkeit: []xauslaender.Erreichbarkeit{{Kanal: "01", KanalListVersion: "3", Kennung: "abh@aalen.example.org"}},
		Anschrift:      xauslaender.Anschrift{Strasse: "Musterplatz", Hausnummer: "1", Postleitzahl: "73430", Ort: "Aalen"},
		Bundle:         bundle}
}

func TestJSONToValidatedMessageAndReplyLinkage(t *testing.T) {
	c := codec(t)
	ctx := context.Background()
	m, err := c.FromJSON(ctx, "130111", []byte(`{"antragsidentifikation":"APP-4711","rueckkanalVorhanden":true}`), gateway.Authority{Key: "000100"})
	if err != nil {
		t.Fatal(err)
	}
	if m.TypeCode != "130111" || m.Version != "26.11" || m.ApplicationID != "APP-4711" || m.ReaderKey != "abh:000100" || m.MessageUUID == "" {
		t.Fatalf("%+v", m)
	}
	// The same bytes posted as XML pass validation again.
	again, err := c.ParseXML(ctx, m.XML)
	if err != nil || again.MessageUUID != m.MessageUUID {
		t.Fatalf("%v", err)
	}

	// The office's Statusmeldung answering it.
	in, _ := xauslaender.Parse(m.XML)
	status, err := xauslaender.FromJSON("130104", "", []byte(`{"status":{"code":"01"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := abhSender().PrepareReply(status, in); err != nil {
		t.Fatal(err)
	}
	xml, err := xauslaender.Marshal(status)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.ParseReply(ctx, xml)
	if err != nil {
		t.Fatal(err)
	}
	if r.TypeCode != "130104" || r.TriggerUUID != m.MessageUUID || r.ApplicationID != "APP-4711" || r.AuthorKey != "abh:000100" {
		t.Fatalf("%+v", r)
	}
}

func TestInvalidInputGivesProblems(t *testing.T) {
	c := codec(t)
	ctx := context.Background()
	for name, body := range map[string]string{
		"malformed":  "<x",
		"DTD":        `<!DOCTYPE x [<!ENTITY e "x">]><x/>`,
		"wrong root": `<x xmlns="urn:nothing"/>`,
		"incomplete": `<xauslaender:OZG.Ruecknahme.130111 xmlns:xauslaender="http://www.osci.de/xauslaender2611" produkt="p" produkthersteller="h" standard="XAusländer" version="26.11"><nachrichtenkopf.g2g/></xauslaender:OZG.Ruecknahme.130111>`,
	} {
		_, err := c.ParseXML(ctx, []byte(body))
		var v *gateway.ValidationError
		if !errors.As(err, &v) || len(v.Problems) == 0 || v.Problems[0].Message == "" {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := c.FromJSON(ctx, "130111", []byte(`{"antragsidentifikation":"A","unknownField":1}`), gateway.Authority{Key: "000100"})
	var v *gateway.ValidationError
	if !errors.As(err, &v) || !strings.Contains(v.Problems[0].Message, "unknownField") {
		t.Fatalf("unknown JSON field: %v", err)
	}
	_, err = c.FromJSON(ctx, "130111", []byte(`{"antragsidentifikation":"A","rueckkanalVorhanden":true}`), gateway.Authority{Key: "999999"})
	if !errors.As(err, &v) || v.Problems[0].Path != "/recipient" {
		t.Fatalf("unknown ABH: %v", err)
	}
	noSender, _ := xacodec.New(bundle, nil)
	if _, err := noSender.FromJSON(ctx, "", []byte(`{}`), gateway.Authority{Key: "000100"}); !errors.Is(err, xacodec.ErrNoSender) {
		t.Fatalf("%v", err)
	}
}

// TestHeaderRulesGive422: a Rücknahme whose header claims to be an
// application is valid against the XSD and the code lists but not a
// message an office accepts; the codec refuses it with a header problem.
func TestHeaderRulesGive422(t *testing.T) {
	c := codec(t)
	ctx := context.Background()
	m, err := c.FromJSON(ctx, "130111", []byte(`{"antragsidentifikation":"APP-4711","rueckkanalVorhanden":true}`), gateway.Authority{Key: "000100"})
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(m.XML), "<code>130111</code>", "<code>130101</code>", 1)
	if bad == string(m.XML) {
		t.Fatal("no nachrichtentyp to change")
	}
	_, err = c.ParseXML(ctx, []byte(bad))
	var v *gateway.ValidationError
	if !errors.As(err, &v) || len(v.Problems) != 1 || v.Problems[0].Kind != xauslaender.KindHeader ||
		v.Problems[0].Path != "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp" ||
		!strings.Contains(v.Problems[0].Message, "does not match the root element") {
		t.Fatalf("%#v", err)
	}
	noZone := strings.Replace(string(m.XML), "2026-03-01T10:00:00Z", "2026-03-01T10:00:00", 1)
	if noZone == string(m.XML) {
		t.Fatalf("no creation time to change in\n%s", m.XML)
	}
	if _, err = c.ParseXML(ctx, []byte(noZone)); !errors.As(err, &v) || v.Problems[0].Kind != xauslaender.KindHeader {
		t.Fatalf("%v", err)
	}
}

// TestRejectionLinksToTheRejectedMessage: an XInneres Rückweisung names the
// message it rejects in rueckweisung/idNachricht; the codec reports it as
// the trigger so the gateway links it like an answer.
func TestRejectionLinksToTheRejectedMessage(t *testing.T) {
	c := codec(t)
	ctx := context.Background()
	app, err := c.FromJSON(ctx, "130111", []byte(`{"antragsidentifikation":"APP-4712","rueckkanalVorhanden":true}`), gateway.Authority{Key: "000100"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := xauslaender.Parse(app.XML)
	if err != nil {
		t.Fatal(err)
	}
	rw, ok := samples.Lookup("rueckweisung")
	if !ok {
		t.Fatal("no Rückweisung sample")
	}
	reply := rw.Content()
	if err := abhSender().PrepareReply(reply, in); err != nil {
		t.Fatal(err)
	}
	data, err := xauslaender.Marshal(reply)
	if err != nil {
		t.Fatal(err)
	}
	// The sample names its own rejected message; point it at ours.
	_, parsed, err := xauslaender.NewValidator(bundle).ValidateAndParse(data)
	if err != nil || parsed == nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), parsed.Header.RejectedUUID, app.MessageUUID, 1))
	r, err := c.ParseReply(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if r.TypeCode != "0010" || r.TriggerUUID != app.MessageUUID {
		t.Fatalf("%+v", r)
	}
}

// BenchmarkParseXML is the codec's share of the accept path for the 21.7 KB
// employment application: validation (XSD, code lists, header rules) and
// the typed message with its header, from one read of the document. Run
// with -cpu 1; cpu-ns/op is the CPU time per accepted message.
func BenchmarkParseXML(b *testing.B) {
	c := codec(b)
	s, ok := samples.Lookup("antrag-erwerbstaetigkeit")
	if !ok {
		b.Fatal("no sample")
	}
	data, err := s.XML(bundle)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ParseXML(ctx, data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start := cpuNow()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.ParseXML(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
}

// cpuNow is the process's CPU time (all threads, user and system).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
