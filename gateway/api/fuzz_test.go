package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xagw/xagw/gateway/api"
	"github.com/xagw/xagw/gateway/store"
)

// FuzzSubmit posts arbitrary bodies as XML and as JSON: the API must answer
// with a documented status and a JSON error, never 500 or a panic.
func FuzzSubmit(f *testing.F) {
	f.Add(true, []byte(`{"recipient":{"plz":"24937"},"application":{"antragsidentifikation":"A","familienname":"X"}}`))
	f.Add(true, []byte(`{"recipient":{"abh":"01001","ags":"1"},"application":{}}`))
	f.Add(false, antrag("01001", "A", "X"))
	f.Add(false, []byte(`<!DOCTYPE x><x/>`))
	s, err := store.Open(context.Background(), store.SQLite, f.TempDir()+"/fuzz.db", store.Options{SQLiteSynchronous: "NORMAL"})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := newHarness(f, s, false)
	handler := h.api.Handler()
	f.Fuzz(func(t *testing.T, isJSON bool, body []byte) {
		ct := "application/xml"
		if isJSON {
			ct = "application/json"
		}
		req := httptest.NewRequest("POST", "/v1/messages?abh=01001", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusAccepted:
		case 400, 409, 413, 415, 422:
			var e api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d without a JSON error: %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	})
}
