package dvdvtest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

type fixture struct {
	srv    *dvdvtest.Server
	sample *dvdvtest.Sample
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	p, err := dvdvtest.SharedPKI()
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.NewSample("https://im.example/osci")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sample: s, now: time.Now()}
	end := f.now.Add(-time.Hour)
	s.File.Organizations[0].Services[0].ValidTo = &end // 1.21.1 has ended
	dir, err := dvdvfile.New(s.File, dvdvfile.Options{Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = dvdvtest.NewServer(dir, dvdvtest.Options{Now: func() time.Time { return f.now }})
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) get(t *testing.T, path, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *fixture) token(t *testing.T, assertion string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(f.srv.URL+"/"+dvdv.TokenPath, url.Values{
		"grant_type": {dvdv.GrantTypeClientCredentials}, "client_assertion_type": {dvdv.ClientAssertionTypeJWT}, "client_assertion": {assertion}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func q(req dvdv.Request) string {
	b, _ := json.Marshal(req)
	return "?request_json=" + url.QueryEscape(string(b))
}

func TestDirectoryAnswers(t *testing.T) {
	f := newFixture(t)
	uri1211, _ := dvdv.OZGServiceURI("1.21.1")
	uri2611, _ := dvdv.OZGServiceURI("26.11")
	base := "/" + dvdv.EntryPathIntern + "/v2/"

	resp, body := f.get(t, base+"findservicedescription"+q(dvdv.Request{OrganizationKey: "abh:000100", ServiceSpecificationURI: uri2611}), "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"OSCI_INTERMEDIARY"`) {
		t.Errorf("service: %d %s", resp.StatusCode, body)
	}
	// An ended service: 204 with an RFC 2047 encoded warning.
	resp, body = f.get(t, base+"findservicedescription"+q(dvdv.Request{OrganizationKey: "abh:000100", ServiceSpecificationURI: uri1211}), "")
	raw := resp.Header.Get(dvdv.WarningHeader)
	decoded, err := new(mime.WordDecoder).DecodeHeader(raw)
	if resp.StatusCode != 204 || body != "" || !strings.HasPrefix(raw, "=?UTF-8?q?") || err != nil || !strings.Contains(decoded, "nicht mehr gültig") {
		t.Errorf("ended service: %d %q %q %v", resp.StatusCode, raw, decoded, err)
	}
	// Unknown: 404 problem.
	resp, body = f.get(t, base+"findservicedescription"+q(dvdv.Request{OrganizationKey: "abh:999999", ServiceSpecificationURI: uri2611}), "")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "5005: Kein Dienst") {
		t.Errorf("unknown: %d %s", resp.StatusCode, body)
	}
	// Broken request_json and missing parameters: 400 problems worded as the DVDV's.
	resp, body = f.get(t, base+"findauthoritydescription?request_json=%7BNonsense-Eingabe", "")
	if resp.StatusCode != 400 || !strings.Contains(body, "7006: Fehler bei JSON-Konvertierung") {
		t.Errorf("nonsense: %d %s", resp.StatusCode, body)
	}
	resp, body = f.get(t, base+"findauthoritydescription"+q(dvdv.Request{OrganizationKey: "abh:000100"}), "")
	if resp.StatusCode != 400 || !strings.Contains(body, "Parameter 'category' fehlt") {
		t.Errorf("missing category: %d %s", resp.StatusCode, body)
	}
	// Unknown paths are plain 404s (not problems), as a misrouted proxy would give.
	resp, _ = f.get(t, "/"+dvdv.EntryPathIntern+"/v1/findservicedescription", "")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") == "application/problem+json" {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	// Batch limit.
	reqs := make([]dvdv.Request, dvdv.MaxBatch+1)
	b, _ := json.Marshal(reqs)
	r2, err := http.Post(f.srv.URL+base+"batch/verifycategory", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 400 {
		t.Errorf("batch of %d: %d", len(reqs), r2.StatusCode)
	}
}

func TestExternalPathNeedsEmbeddedBearer(t *testing.T) {
	f := newFixture(t)
	path := "/" + dvdv.EntryPathStandalone + "/v2/version"
	if resp, body := f.get(t, path, ""); resp.StatusCode != 401 || !strings.Contains(body, "EmbeddedBearer") {
		t.Errorf("no token: %d %s", resp.StatusCode, body)
	}
	assertion, _ := f.sample.Client.ClientAssertion(f.srv.URL+"/"+dvdv.TokenPath, f.now)
	status, body := f.token(t, assertion)
	if status != 200 {
		t.Fatalf("token: %d %s", status, body)
	}
	var tok dvdv.AccessToken
	json.Unmarshal([]byte(body), &tok)
	if tok.ExpiresIn != 3600 || tok.TokenType != "Bearer" {
		t.Errorf("token answer %s", body)
	}
	if resp, _ := f.get(t, path, "Bearer "+tok.AccessToken); resp.StatusCode != 401 {
		t.Errorf("plain Bearer accepted: %d", resp.StatusCode)
	}
	if resp, body := f.get(t, path, "EmbeddedBearer "+tok.AccessToken); resp.StatusCode != 200 || !strings.Contains(body, "xagw-file-directory") {
		t.Errorf("with token: %d %s", resp.StatusCode, body)
	}
	f.now = f.now.Add(time.Hour + time.Second)
	if resp, _ := f.get(t, path, "EmbeddedBearer "+tok.AccessToken); resp.StatusCode != 401 {
		t.Errorf("expired token accepted: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, "/"+dvdv.EntryPathBundesmaster+"/v2/version", ""); resp.StatusCode != 401 {
		t.Errorf("bundesmaster path: %d", resp.StatusCode)
	}
}

// sign builds a JWT with arbitrary header and claims.
func sign(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestTokenEndpointChecksTheAssertion(t *testing.T) {
	f := newFixture(t)
	p, _ := dvdvtest.SharedPKI()
	aud := f.srv.URL + "/" + dvdv.TokenPath
	sub := f.sample.Client.Subject()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": sub, "sub": sub, "aud": aud, "iat": f.now.Unix(), "exp": f.now.Add(time.Minute).Unix(), "jti": "id-" + time.Now().Format(time.RFC3339Nano)}
		if mod != nil {
			mod(c)
		}
		return c
	}
	rs256 := map[string]any{"alg": "RS256", "typ": "JWT"}
	other, _ := p.ClientAuth("unregistered")
	for name, tc := range map[string]struct {
		jwt  string
		want string
	}{
		"alg none":         {sign(t, p.Key(), map[string]any{"alg": "none"}, claims(nil)), "nicht erlaubt"},
		"expired":          {sign(t, p.Key(), rs256, claims(func(c map[string]any) { c["exp"] = f.now.Add(-time.Hour).Unix() })), "abgelaufen"},
		"too long":         {sign(t, p.Key(), rs256, claims(func(c map[string]any) { c["exp"] = f.now.Add(48 * time.Hour).Unix() })), "zu lange"},
		"wrong audience":   {sign(t, p.Key(), rs256, claims(func(c map[string]any) { c["aud"] = "https://elsewhere/token" })), "audience"},
		"no fp subject":    {sign(t, p.Key(), rs256, claims(func(c map[string]any) { c["sub"] = "client" })), "fp:<Zertifikatsfingerprint>"},
		"unregistered":     {sign(t, p.Key(), rs256, claims(func(c map[string]any) { c["sub"], c["iss"] = other.Subject(), other.Subject() })), "Kein passendes Client-Zertifikat"},
		"foreign key":      {sign(t, mustKey(t), rs256, claims(nil)), "Signatur"},
		"issued in future": {sign(t, p.Key(), rs256, claims(func(c map[string]any) { c["iat"] = f.now.Add(time.Hour).Unix() })), "Zukunft"},
		"no jti":           {sign(t, p.Key(), rs256, claims(func(c map[string]any) { delete(c, "jti") })), "jti"},
		"not a JWT":        {"abc", "kein JWT"},
	} {
		status, body := f.token(t, tc.jwt)
		if status != 401 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 401 mentioning %q", name, status, body, tc.want)
		}
	}
	// A valid assertion works once; replaying it fails.
	good := sign(t, p.Key(), rs256, claims(nil))
	if status, body := f.token(t, good); status != 200 {
		t.Fatalf("valid assertion refused: %s", body)
	}
	if status, body := f.token(t, good); status != 401 || !strings.Contains(body, "bereits verwendet") {
		t.Errorf("replay: %d %s", status, body)
	}
}

func TestInjectedFailures(t *testing.T) {
	f := newFixture(t)
	path := "/" + dvdv.EntryPathIntern + "/v2/version"
	f.srv.Inject(dvdvtest.Failure{Op: "version", Status: 503, Times: 2})
	f.srv.Inject(dvdvtest.Failure{Op: "version", Malformed: true})
	for i, want := range []int{503, 503, 200, 200} {
		resp, body := f.get(t, path, "")
		if resp.StatusCode != want {
			t.Errorf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
		if i == 2 && json.Valid([]byte(body)) {
			t.Errorf("malformed answer is valid JSON: %s", body)
		}
	}
	if n := f.srv.Requests("version"); n != 4 {
		t.Errorf("counted %d requests", n)
	}
}

func mustKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func FuzzVerifyAssertion(f *testing.F) {
	p, err := dvdvtest.SharedPKI()
	if err != nil {
		f.Fatal(err)
	}
	client, _ := p.ClientAuth("fuzz client")
	now := time.Unix(1_800_000_000, 0)
	aud := "http://127.0.0.1/dvdv2-backend/extern/standaloneauth/token"
	good, _ := client.ClientAssertion(aud, now)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJmcDphYmMifQ.")
	lookup := func(fp string) *x509.Certificate {
		if fp == dvdv.Fingerprint(client.Certificate) {
			return client.Certificate
		}
		return nil
	}
	f.Fuzz(func(t *testing.T, jwt string) {
		a, err := dvdvtest.VerifyAssertion(jwt, aud, now, lookup)
		if err != nil {
			return
		}
		// Anything accepted must carry a signature by the registered key
		// over exactly its first two parts.
		parts := strings.Split(jwt, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if rsa.VerifyPKCS1v15(client.Certificate.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig) != nil || a.Fingerprint != dvdv.Fingerprint(client.Certificate) {
			t.Fatalf("accepted an assertion not signed by the client: %q", jwt)
		}
	})
}
