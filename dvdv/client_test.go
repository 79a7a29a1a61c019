package dvdv_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

var ctx = context.Background()

func TestLookupOverLoopback(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *dvdv.Config) {
		c.Scenarios = map[string]dvdv.Scenario{"http://www.osci.de/xauslaender1211/xauslaender1211OZGPORTALABH.wsdl": dvdv.ScenarioStore}
	}})
	r, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if err != nil {
		t.Fatal(err)
	}
	s := e.sample
	if r.IntermediaryURL != intermediaryURL {
		t.Errorf("intermediary URL %q", r.IntermediaryURL)
	}
	for name, pair := range map[string][2][]byte{
		"intermediary cipher":    {r.IntermediaryCipherCert.Raw, s.IntermediaryCipher.Raw},
		"intermediary signature": {r.IntermediarySignatureCert.Raw, s.IntermediarySignature.Raw},
		"addressee cipher":       {r.AddresseeCipherCert.Raw, s.AddresseeCipher.Raw},
		"addressee signature":    {r.AddresseeSignatureCert.Raw, s.AddresseeSignature.Raw},
	} {
		if string(pair[0]) != string(pair[1]) {
			t.Errorf("%s certificate differs from the one in the directory", name)
		}
	}
	if r.AddresseeURI != "urn:de:xagw:test:abh:000100" || r.OrganizationName != "STV Aalen" || r.Organization != dvdvtest.SampleABH {
		t.Errorf("route %+v", r)
	}
	if r.Scenario != dvdv.ScenarioStore {
		t.Errorf("scenario %q, want store from the configuration", r.Scenario)
	}
	if r.Source != "dvdv "+e.servers[0].URL {
		t.Errorf("source %q", r.Source)
	}
	// The window is the intersection of the certificates' validity.
	if !r.ValidAt(e.clock.Now()) || r.ValidUntil.After(s.AddresseeCipher.NotAfter) {
		t.Errorf("validity %v – %v", r.ValidFrom, r.ValidUntil)
	}
	if r.Service == nil || r.Service.ServiceSpecificationURI != e.uri1211 {
		t.Errorf("raw service missing or wrong")
	}
	// The token endpoint was used once, the directory once.
	if n := e.requests("token"); n != 1 {
		t.Errorf("token requests %d", n)
	}
}

// The client answers every query exactly like the file directory it is
// served from: the HTTP layer adds and loses nothing.
func TestEveryQueryMatchesBackend(t *testing.T) {
	e := newEnv(t, envOptions{})
	fp := dvdv.Fingerprint(e.sample.Client.Certificate)
	cipherFP := dvdv.Fingerprint(e.sample.AddresseeCipher)
	org := dvdvtest.SampleABH
	type pair struct {
		name        string
		client, dir func() (any, error)
	}
	for _, q := range []pair{
		{"findservicedescription",
			func() (any, error) { return e.client.FindServiceDescription(ctx, org, e.uri2611) },
			func() (any, error) { return e.dir.FindServiceDescription(ctx, org, e.uri2611) }},
		{"findauthoritydescription",
			func() (any, error) { return e.client.FindAuthorityDescription(ctx, "Ausländerbehörde", org) },
			func() (any, error) { return e.dir.FindAuthorityDescription(ctx, "Ausländerbehörde", org) }},
		{"findauthoritydescriptions",
			func() (any, error) { return e.client.FindAuthorityDescriptions(ctx, org) },
			func() (any, error) { return e.dir.FindAuthorityDescriptions(ctx, org) }},
		{"findcategories",
			func() (any, error) { return e.client.FindCategories(ctx, fp, org) },
			func() (any, error) { return e.dir.FindCategories(ctx, fp, org) }},
		{"verifycategory",
			func() (any, error) { return e.client.VerifyCategory(ctx, fp, "Ausländerbehörde") },
			func() (any, error) { return e.dir.VerifyCategory(ctx, fp, "Ausländerbehörde") }},
		{"findCertificateByFingerprint",
			func() (any, error) { return e.client.FindCertificateByFingerprint(ctx, cipherFP) },
			func() (any, error) { return e.dir.FindCertificateByFingerprint(ctx, cipherFP) }},
		{"findOrganizationsByServiceElement",
			func() (any, error) {
				return e.client.FindOrganizationsByServiceElement(ctx, dvdv.Request{ServiceElementType: dvdv.ElementAddressee, ParameterType: dvdv.ParameterCipherCertificate, ParameterValue: cipherFP})
			},
			func() (any, error) {
				return e.dir.FindOrganizationsByServiceElement(ctx, dvdv.Request{ServiceElementType: dvdv.ElementAddressee, ParameterType: dvdv.ParameterCipherCertificate, ParameterValue: cipherFP})
			}},
		{"findServiceSpecificationUrisByCategory",
			func() (any, error) { return e.client.FindServiceSpecificationURIsByCategory(ctx, "Ausländerbehörde") },
			func() (any, error) { return e.dir.FindServiceSpecificationURIsByCategory(ctx, "Ausländerbehörde") }},
		{"categories",
			func() (any, error) { return e.client.Categories(ctx) },
			func() (any, error) { return e.dir.Categories(ctx) }},
		{"intermediaries",
			func() (any, error) { return e.client.Intermediaries(ctx) },
			func() (any, error) { return e.dir.Intermediaries(ctx) }},
		{"version",
			func() (any, error) { return e.client.Version(ctx) },
			func() (any, error) { return e.dir.Version(ctx) }},
	} {
		t.Run(q.name, func(t *testing.T) {
			got, err := q.client()
			if err != nil {
				t.Fatal(err)
			}
			want, err := q.dir()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
				t.Errorf("client answer differs from the directory's:\n got %#v\nwant %#v", got, want)
			}
			if n := e.requests(q.name); n != 1 {
				t.Errorf("%d requests reached the server, want 1", n)
			}
		})
	}
	// Spot checks that the answers are the real data, not empty lists.
	uris, _ := e.client.FindServiceSpecificationURIsByCategory(ctx, "Ausländerbehörde")
	if len(uris) != 2 || uris[0] != e.uri1211 || uris[1] != e.uri2611 {
		t.Errorf("URIs by category %v", uris)
	}
	if ok, _ := e.client.VerifyCategory(ctx, fp, "Meldebehörde"); ok {
		t.Error("verifycategory true for a category the client is not registered in")
	}
	orgs, _ := e.client.FindOrganizationsByServiceElement(ctx, dvdv.Request{ServiceElementType: dvdv.ElementIntermediary, ParameterType: dvdv.ParameterURI, ParameterValue: intermediaryURL})
	if len(orgs) != 1 || orgs[0].NameDe != "STV Aalen" || len(orgs[0].ClientCertificates) != 0 {
		t.Errorf("organisations by intermediary URL: %+v", orgs)
	}
}

// normalize compares answers by their JSON form (time zones and pointer
// identity differ harmlessly between the file and the wire).
func normalize(t *testing.T, v any) string {
	t.Helper()
	b, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBatchForms(t *testing.T) {
	e := newEnv(t, envOptions{})
	org := dvdvtest.SampleABH.String()
	fp := dvdv.Fingerprint(e.sample.Client.Certificate)

	// 450 requests: split into 200 + 200 + 50, answers stay aligned.
	var reqs []dvdv.Request
	for i := 0; i < 450; i++ {
		uri := e.uri2611
		if i%3 == 1 {
			uri = "http://www.osci.de/unknown/service.wsdl"
		}
		reqs = append(reqs, dvdv.Request{OrganizationKey: org, ServiceSpecificationURI: uri})
	}
	svcs, err := e.client.BatchFindServiceDescription(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 450 {
		t.Fatalf("%d answers", len(svcs))
	}
	for i, s := range svcs {
		if (i%3 == 1) != (s == nil) {
			t.Fatalf("answer %d misaligned: %v", i, s)
		}
		if s != nil && s.ServiceSpecificationURI != e.uri2611 {
			t.Fatalf("answer %d is %s", i, s.ServiceSpecificationURI)
		}
	}
	if n := e.requests("batch/findservicedescription"); n != 3 {
		t.Errorf("%d batch calls, want 3", n)
	}

	descs, err := e.client.BatchFindAuthorityDescription(ctx, []dvdv.Request{
		{Category: "Ausländerbehörde", OrganizationKey: org}, {Category: "Ausländerbehörde", OrganizationKey: "abh:999999"}})
	if err != nil || len(descs) != 2 || descs[0] == nil || descs[0].Organization.NameDe != "STV Aalen" || descs[1] != nil {
		t.Errorf("batch authority: %v %+v", err, descs)
	}
	cats, err := e.client.BatchFindCategories(ctx, []dvdv.Request{{FingerPrint: fp, OrganizationKey: org}, {FingerPrint: fp, OrganizationKey: "abh:999999"}})
	if err != nil || !reflect.DeepEqual(cats, [][]string{{"Ausländerbehörde"}, {}}) {
		t.Errorf("batch categories: %v %v", err, cats)
	}
	oks, err := e.client.BatchVerifyCategory(ctx, []dvdv.Request{{FingerPrint: fp, Category: "Ausländerbehörde"}, {FingerPrint: fp, Category: "Standesamt"}})
	if err != nil || !reflect.DeepEqual(oks, []bool{true, false}) {
		t.Errorf("batch verify: %v %v", err, oks)
	}
	orgs, err := e.client.BatchFindOrganizationsByServiceElement(ctx, []dvdv.Request{
		{ServiceElementType: dvdv.ElementIntermediary, ParameterType: dvdv.ParameterURI, ParameterValue: intermediaryURL},
		{ServiceElementType: dvdv.ElementIntermediary, ParameterType: dvdv.ParameterURI, ParameterValue: "https://elsewhere.example/"}})
	if err != nil || len(orgs) != 2 || len(orgs[0]) != 1 || len(orgs[1]) != 0 {
		t.Errorf("batch organisations: %v %v", err, orgs)
	}
	uris, err := e.client.BatchFindServiceSpecificationURIsByCategory(ctx, []dvdv.Request{{Category: "Ausländerbehörde"}, {Category: "Standesamt"}})
	if err != nil || len(uris) != 2 || len(uris[0]) != 2 || len(uris[1]) != 0 {
		t.Errorf("batch URIs: %v %v", err, uris)
	}
	if got, err := e.client.BatchVerifyCategory(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("empty batch: %v %v", err, got)
	}
}

func TestTokenRefresh(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.servers[0].SetTokenLifetime(10 * time.Minute)
	lookup := func() {
		t.Helper()
		e.client.PurgeCache()
		if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211); err != nil {
			t.Fatal(err)
		}
	}
	lookup()
	lookup()
	if n := e.requests("token"); n != 1 {
		t.Fatalf("token requests after two lookups: %d, want 1 (token reused)", n)
	}
	// A fifth of the lifetime before expiry the token is renewed.
	e.clock.Advance(8*time.Minute + time.Second)
	lookup()
	if n := e.requests("token"); n != 2 {
		t.Fatalf("token requests after 8 min: %d, want 2 (renewed before expiry)", n)
	}
	// The server forgets its tokens (restart): the client gets a 401,
	// renews and repeats the request without the caller noticing.
	e.servers[0].ExpireTokens()
	lookup()
	if n := e.requests("token"); n != 3 {
		t.Fatalf("token requests after server restart: %d, want 3", n)
	}
	// A token the server no longer accepts is never sent twice in a row:
	// the directory saw one refused and one accepted request.
	if n := e.requests(dvdv.OpFindServiceDescription); n != 5 {
		t.Errorf("directory requests %d, want 5", n)
	}
}

func TestTokenRenewalFailureKeepsValidToken(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *dvdv.Config) { c.Cache.Disabled = true }})
	e.servers[0].SetTokenLifetime(10 * time.Minute)
	if _, err := e.client.Version(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(9 * time.Minute) // due for renewal, not yet expired
	e.servers[0].Inject(dvdvtest.Failure{Op: "token", Status: http.StatusServiceUnavailable})
	if _, err := e.client.Version(ctx); err != nil {
		t.Fatalf("renewal failure with a still valid token: %v", err)
	}
	if n := e.requests("token"); n != 2 {
		t.Errorf("token requests %d, want 2", n)
	}
}

func TestUnregisteredClientIsRefused(t *testing.T) {
	stranger, err := testPKI(t).ClientAuth("not registered")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{servers: 2, config: func(c *dvdv.Config) { c.Auth = stranger }})
	_, err = e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if !errors.Is(err, dvdv.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), dvdv.Fingerprint(stranger.Certificate)) || !strings.Contains(err.Error(), "Kein passendes Client-Zertifikat") {
		t.Errorf("error does not say which certificate was refused and why: %v", err)
	}
	// A refusal is not a server failure: the second server is not asked.
	if n := e.servers[1].Requests("token"); n != 0 {
		t.Errorf("second server asked %d times after an authentication refusal", n)
	}
}

func TestMissingAuthOnExternalPath(t *testing.T) {
	e := newEnv(t, envOptions{noAuth: true, config: func(c *dvdv.Config) { c.EntryPath = dvdv.EntryPathStandalone }})
	_, err := e.client.Version(ctx)
	if !errors.Is(err, dvdv.ErrUnauthorized) || !strings.Contains(err.Error(), "without authentication") {
		t.Fatalf("err = %v", err)
	}
}

func TestInternEntryPathWithoutAuth(t *testing.T) {
	e := newEnv(t, envOptions{noAuth: true})
	if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri2611); err != nil {
		t.Fatal(err)
	}
	if n := e.requests("token"); n != 0 {
		t.Errorf("token requested on the intern path")
	}
}

func TestFailoverIsStickyAndReturnsToPrimary(t *testing.T) {
	e := newEnv(t, envOptions{servers: 3, config: func(c *dvdv.Config) {
		c.Cache.Disabled = true
		c.PrimaryRetryInterval = time.Minute
	}})
	primary, second := e.servers[0], e.servers[1]
	primary.Inject(dvdvtest.Failure{Op: dvdv.OpVersion, Status: http.StatusBadGateway, Times: -1})
	for i := 0; i < 3; i++ {
		if _, err := e.client.Version(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.client.Current(); got != second.URL {
		t.Fatalf("current server %s, want the second", got)
	}
	if n := primary.Requests(dvdv.OpVersion); n != 1 {
		t.Errorf("primary asked %d times, want 1 (sticky to the second afterwards)", n)
	}
	if n := second.Requests(dvdv.OpVersion); n != 3 {
		t.Errorf("second asked %d times, want 3", n)
	}
	// After the retry interval the primary is probed again; it still fails,
	// so the second answers and the next probe waits another interval.
	e.clock.Advance(61 * time.Second)
	if _, err := e.client.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if n := primary.Requests(dvdv.OpVersion); n != 2 {
		t.Errorf("primary asked %d times after one interval, want 2", n)
	}
	// The primary recovers: after the next interval it is used again.
	primary.ClearFailures()
	e.clock.Advance(61 * time.Second)
	if _, err := e.client.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.client.Current(); got != primary.URL {
		t.Errorf("current server %s after recovery, want the primary", got)
	}
	if n := e.servers[2].Requests(dvdv.OpVersion); n != 0 {
		t.Errorf("third server asked %d times though the second answered", n)
	}
}

func TestFailoverOnTechnicalErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  dvdvtest.Failure
		close bool
	}{
		{name: "HTTP 503", fail: dvdvtest.Failure{Status: http.StatusServiceUnavailable}},
		{name: "HTTP 500", fail: dvdvtest.Failure{Status: http.StatusInternalServerError}},
		{name: "malformed JSON", fail: dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Malformed: true}},
		{name: "404 without problem", fail: dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Status: http.StatusNotFound, Body: "<html>Not Found</html>"}},
		// Go's transport repeats an idempotent request once when a reused
		// connection closes without an answer, so the drop must persist.
		{name: "connection dropped", fail: dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Drop: true, Times: -1}},
		{name: "timeout", fail: dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Delay: 10 * time.Second}},
		{name: "token endpoint down", fail: dvdvtest.Failure{Op: "token", Status: http.StatusBadGateway}},
		{name: "connection refused", close: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Generous enough for a loaded machine; the delayed server holds the
			// request far longer.
			e := newEnv(t, envOptions{servers: 2, config: func(c *dvdv.Config) { c.AttemptTimeout = 1500 * time.Millisecond }})
			if tc.close {
				e.servers[0].Close()
			} else {
				e.servers[0].Inject(tc.fail)
			}
			r, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != "dvdv "+e.servers[1].URL {
				t.Errorf("answered by %s, want the second server", r.Source)
			}
		})
	}
}

func TestFunctionalAnswersDoNotFailOver(t *testing.T) {
	e := newEnv(t, envOptions{servers: 2})
	_, err := e.client.Lookup(ctx, dvdv.MustParseOrgKey("abh:999999"), e.uri1211)
	if !errors.Is(err, dvdv.ErrNoService) {
		t.Fatalf("err = %v, want ErrNoService", err)
	}
	var de *dvdv.Error
	if !errors.As(err, &de) || de.Problem.Code() != "5005" || de.Status != http.StatusNotFound {
		t.Fatalf("want the directory's 404 problem 5005, got %#v", de)
	}
	if !strings.Contains(err.Error(), "Kein Dienst zum Organisationsschlüssel") {
		t.Errorf("message lacks the directory's words: %v", err)
	}
	if n := e.servers[1].Requests(dvdv.OpFindServiceDescription); n != 0 {
		t.Errorf("second server asked after a functional 404")
	}
	if dvdv.IsTemporary(err) || !dvdv.IsNegative(err) {
		t.Errorf("404 classified wrongly")
	}

	// 400 with a problem: the request is wrong; no failover either.
	e.servers[0].Inject(dvdvtest.Failure{Op: dvdv.OpVersion, Status: http.StatusBadRequest,
		Body: `{"type":"problems/type/INPUT_VALIDATION","title":"Invalide Eingabe","status":400,"detail":"7006: Fehler bei JSON-Konvertierung"}`})
	_, err = e.client.Version(ctx)
	if !errors.Is(err, dvdv.ErrBadRequest) || !strings.Contains(err.Error(), "7006") {
		t.Fatalf("err = %v, want ErrBadRequest with the detail", err)
	}
	if n := e.servers[1].Requests(dvdv.OpVersion); n != 0 {
		t.Errorf("second server asked after a 400")
	}
}

func TestAllServersFail(t *testing.T) {
	e := newEnv(t, envOptions{servers: 2})
	for _, s := range e.servers {
		s.Inject(dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Status: http.StatusServiceUnavailable})
	}
	_, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if !errors.Is(err, dvdv.ErrUnavailable) || !dvdv.IsTemporary(err) || dvdv.IsNegative(err) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range e.servers {
		if !strings.Contains(err.Error(), s.URL) {
			t.Errorf("error does not name server %s: %v", s.URL, err)
		}
	}
	// Failures are not cached: once the servers recover, the answer comes.
	if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	e := newEnv(t, envOptions{servers: 2})
	e.servers[0].Inject(dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Delay: 5 * time.Second})
	cctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client.Lookup(cctx, dvdvtest.SampleABH, e.uri1211)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
	if n := e.servers[1].Requests(dvdv.OpFindServiceDescription); n != 0 {
		t.Errorf("second server asked after the caller gave up")
	}
}

func TestCacheHitsAndExpiry(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *dvdv.Config) {
		c.Cache.ServiceTTL = 10 * time.Minute
		c.Cache.NegativeTTL = 30 * time.Second
	}})
	lookup := func(uri string) error {
		_, err := e.client.Lookup(ctx, dvdvtest.SampleABH, uri)
		return err
	}
	for i := 0; i < 3; i++ {
		if err := lookup(e.uri1211); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.requests(dvdv.OpFindServiceDescription); n != 1 {
		t.Fatalf("%d directory requests for three lookups, want 1", n)
	}
	st := e.client.CacheStats()
	if st.Hits < 2 {
		t.Errorf("cache stats %+v", st)
	}
	e.clock.Advance(10*time.Minute + time.Second)
	if err := lookup(e.uri1211); err != nil {
		t.Fatal(err)
	}
	if n := e.requests(dvdv.OpFindServiceDescription); n != 2 {
		t.Fatalf("%d directory requests after the TTL, want 2", n)
	}

	// Negative answers are cached for the (shorter) negative TTL.
	unknown := "http://www.osci.de/xauslaender0000/none.wsdl"
	for i := 0; i < 2; i++ {
		if err := lookup(unknown); !errors.Is(err, dvdv.ErrNoService) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := e.requests(dvdv.OpFindServiceDescription); n != 3 {
		t.Fatalf("%d requests, want 3 (negative answer cached)", n)
	}
	e.clock.Advance(31 * time.Second)
	lookup(unknown)
	if n := e.requests(dvdv.OpFindServiceDescription); n != 4 {
		t.Fatalf("%d requests, want 4 (negative TTL over)", n)
	}
}

func TestCacheNeverOutlivesServiceValidity(t *testing.T) {
	var validTo time.Time
	e := newEnv(t, envOptions{file: func(s *dvdvtest.Sample) {
		validTo = time.Now().Add(5 * time.Minute)
		s.File.Organizations[0].Services[0].ValidTo = &validTo
	}, config: func(c *dvdv.Config) { c.Cache.ServiceTTL = time.Hour }})
	r, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if err != nil {
		t.Fatal(err)
	}
	if !r.ValidUntil.Equal(validTo.Truncate(time.Millisecond)) && !r.ValidUntil.Equal(validTo) {
		t.Errorf("route valid until %v, want the service's end %v", r.ValidUntil, validTo)
	}
	e.clock.Advance(6 * time.Minute)
	_, err = e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if !errors.Is(err, dvdv.ErrNoService) {
		t.Fatalf("after the service ended: err = %v, want ErrNoService", err)
	}
	// The directory's 204 warning reaches the caller, decoded (RFC 2047, UTF-8).
	var de *dvdv.Error
	if !errors.As(err, &de) || de.Status != http.StatusNoContent || !strings.Contains(de.Warning, "nicht mehr gültig") {
		t.Fatalf("want 204 with the decoded warning, got %v", err)
	}
	if n := e.requests(dvdv.OpFindServiceDescription); n != 2 {
		t.Errorf("%d directory requests, want 2", n)
	}
}

func TestCacheNeverOutlivesCertificates(t *testing.T) {
	e := newEnv(t, envOptions{file: func(s *dvdvtest.Sample) {
		short := testPKI(t).MustIssue("short-lived addressee cipher", time.Now().Add(-time.Hour), time.Now().Add(2*time.Minute))
		s.File.Organizations[0].Services[0].CipherCertificate = dvdvfile.InlineCert(short)
	}, config: func(c *dvdv.Config) { c.Cache.ServiceTTL = time.Hour }})
	if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Minute)
	_, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
	if !errors.Is(err, dvdv.ErrNoUsableCertificate) || !errors.Is(err, dvdv.ErrCertificateExpired) {
		t.Fatalf("err = %v, want an expired addressee certificate", err)
	}
	if !strings.Contains(err.Error(), "addressee cipher certificate") || !strings.Contains(err.Error(), "short-lived addressee cipher") {
		t.Errorf("error does not say which certificate: %v", err)
	}
}

func TestConcurrentLookupsCollapse(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.servers[0].Inject(dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Delay: 200 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.requests(dvdv.OpFindServiceDescription); n != 1 {
		t.Errorf("%d directory requests for 20 concurrent lookups, want 1", n)
	}
	if n := e.requests("token"); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

func TestRevokedCertificatesAreNeverUsable(t *testing.T) {
	revoked := time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name    string
		mutate  func(*dvdvtest.Sample)
		wantErr bool
		check   func(*testing.T, *dvdv.Route)
	}{
		{name: "addressee cipher", wantErr: true, mutate: func(s *dvdvtest.Sample) {
			c := s.File.Organizations[0].Services[0].CipherCertificate
			c.RevocationDate, c.RevocationReason = &revoked, "KEY_COMPROMISE"
		}},
		{name: "intermediary cipher", wantErr: true, mutate: func(s *dvdvtest.Sample) {
			s.File.Intermediaries[0].CipherCertificate.RevocationReason = "CERTIFICATE_HOLD"
		}},
		{name: "addressee signature", mutate: func(s *dvdvtest.Sample) {
			s.File.Organizations[0].Services[0].SignatureCertificate.RevocationDate = &revoked
		}, check: func(t *testing.T, r *dvdv.Route) {
			if r.AddresseeSignatureCert != nil {
				t.Error("revoked signature certificate returned")
			}
			if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "revoked") {
				t.Errorf("warnings %q", r.Warnings)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{file: tc.mutate})
			r, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri1211)
			if tc.wantErr {
				if !errors.Is(err, dvdv.ErrCertificateRevoked) || !errors.Is(err, dvdv.ErrNoUsableCertificate) {
					t.Fatalf("err = %v, want a revoked certificate", err)
				}
				if !strings.Contains(err.Error(), tc.name+" certificate") {
					t.Errorf("error does not name the role: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestClientRejectsBadConfiguration(t *testing.T) {
	auth, _ := testPKI(t).ClientAuth("c")
	other, _ := testPKI(t).ClientAuth("d")
	mismatched := &dvdv.StandaloneAuth{Certificate: auth.Certificate, Key: mustRSAKey(t)}
	for _, tc := range []struct {
		name string
		cfg  dvdv.Config
		want string
	}{
		{"no server", dvdv.Config{}, "no DVDV server"},
		{"plain http", dvdv.Config{Servers: []string{"http://dvdv.example.de"}}, "plain http"},
		{"query", dvdv.Config{Servers: []string{"https://dvdv.example.de/?x=1"}}, "no query"},
		{"relative", dvdv.Config{Servers: []string{"dvdv.example.de"}}, "absolute"},
		{"twice", dvdv.Config{Servers: []string{"https://a.example/dvdv2-backend", "https://a.example"}}, "twice"},
		{"key mismatch", dvdv.Config{Servers: []string{"https://a.example"}, Auth: mismatched}, "does not belong"},
	} {
		if _, err := dvdv.NewClient(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	c, err := dvdv.NewClient(dvdv.Config{Servers: []string{"http://dvdv.internal.example:8080", "https://b.example/custom/"}, AllowInsecureHTTP: true, Auth: other})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Servers(); !reflect.DeepEqual(got, []string{"http://dvdv.internal.example:8080/dvdv2-backend", "https://b.example/custom"}) {
		t.Errorf("servers %v", got)
	}
}

func TestInvalidQueriesAreRejectedLocally(t *testing.T) {
	e := newEnv(t, envOptions{})
	for name, err := range map[string]error{
		"short uri":   func() error { _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, "x"); return err }(),
		"bad key":     func() error { _, err := e.client.Lookup(ctx, dvdv.OrgKey{Prefix: "abh"}, e.uri1211); return err }(),
		"fingerprint": func() error { _, err := e.client.FindCertificateByFingerprint(ctx, "abc"); return err }(),
		"category":    func() error { _, err := e.client.FindServiceSpecificationURIsByCategory(ctx, ""); return err }(),
		"param type": func() error {
			_, err := e.client.FindOrganizationsByServiceElement(ctx, dvdv.Request{ServiceElementType: "X"})
			return err
		}(),
	} {
		if !errors.Is(err, dvdv.ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", name, err)
		}
	}
	if n := e.requests(dvdv.OpFindServiceDescription) + e.requests("token"); n != 0 {
		t.Errorf("invalid queries reached the server")
	}
}

func TestCertificateNotFound(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, err := e.client.FindCertificateByFingerprint(ctx, strings.Repeat("ab", 20))
	if !errors.Is(err, dvdv.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	// A revoked record is returned as published; Check refuses it.
	revoked := time.Now().Add(-time.Minute)
	e = newEnv(t, envOptions{file: func(s *dvdvtest.Sample) {
		s.File.Organizations[0].Services[0].CipherCertificate.RevocationDate = &revoked
	}})
	rec, err := e.client.FindCertificateByFingerprint(ctx, strings.ToUpper(dvdv.Fingerprint(e.sample.AddresseeCipher)))
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Revoked() {
		t.Fatal("revocation lost on the wire")
	}
	if _, err := rec.Check(time.Now()); !errors.Is(err, dvdv.ErrCertificateRevoked) {
		t.Errorf("Check: %v", err)
	}
}

// The gateway classifies delivery failures by Retryable and Code.
func TestErrorClassification(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, noService := e.client.Lookup(ctx, dvdv.MustParseOrgKey("abh:000110"), e.uri1211)
	e.servers[0].Inject(dvdvtest.Failure{Op: dvdv.OpFindServiceDescription, Status: http.StatusServiceUnavailable})
	e.client.PurgeCache()
	_, unavailable := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri2611)
	for _, tc := range []struct {
		err       error
		retryable bool
		code      string
	}{
		{noService, false, "dvdv_no_service"},
		{unavailable, true, "dvdv_unavailable"},
	} {
		var c interface {
			Retryable() bool
			Code() string
		}
		if !errors.As(tc.err, &c) || c.Retryable() != tc.retryable || c.Code() != tc.code {
			t.Errorf("%v: retryable/code wrong", tc.err)
		}
	}
}
