package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

var idemRe = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)

// SubmitJSON is the JSON request body of POST /v1/messages.
type SubmitJSON struct {
	Recipient RecipientRef `json:"recipient"`
	// Type is the XAusländer message type code (default 130101).
	Type        string          `json:"type,omitempty"`
	Application json.RawMessage `json:"application"`
}

// Accepted is the 202 response of POST /v1/messages.
type Accepted struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	Recipient        string `json:"recipient"`
	MessageUUID      string `json:"message_uuid"`
	IdempotentReplay bool   `json:"idempotent_replay,omitempty"`
	Location         string `json:"location"`
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, p *Principal) {
	key := r.Header.Get("Idempotency-Key")
	if key != "" && !idemRe.MatchString(key) {
		writeError(w, http.StatusBadRequest, "invalid_request", "Idempotency-Key must be 1 to 200 printable ASCII characters without spaces")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", "request body larger than "+strconv.FormatInt(mb.Limit, 10)+" bytes")
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "reading the body: "+err.Error())
		return
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request", "empty body: post an XAusländer message as XML or an application as JSON")
		return
	}
	sub := outbox.Submission{ClientID: p.ClientID, IdempotencyKey: key}
	var ref RecipientRef
	switch mediaType(r) {
	case "application/xml", "text/xml":
		sub.Format, sub.Body = outbox.FormatXML, body
		q := r.URL.Query()
		ref = RecipientRef{ABH: q.Get("abh"), AGS: q.Get("ags"), PLZ: q.Get("plz")}
	case "application/json":
		var req SubmitJSON
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_json", "the JSON body is malformed: "+err.Error())
			return
		}
		if len(req.Application) == 0 {
			writeError(w, http.StatusUnprocessableEntity, "validation_failed", "the JSON body needs an \"application\" object",
				[]gateway.Problem{{Path: "/application", Kind: "request", Message: "required"}})
			return
		}
		if req.Recipient.empty() {
			writeError(w, http.StatusUnprocessableEntity, "validation_failed", "the JSON body needs a \"recipient\" (abh, ags or plz)",
				[]gateway.Problem{{Path: "/recipient", Kind: "request", Message: "required"}})
			return
		}
		sub.Format, sub.Body, sub.MessageType, ref = outbox.FormatJSON, req.Application, req.Type, req.Recipient
	default:
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/xml (an XAusländer message) or application/json (an application)")
		return
	}
	if !ref.empty() {
		auth, err := s.cfg.Tenants.Resolve(ref)
		if err != nil {
			var re *resolveError
			if errors.As(err, &re) {
				code := http.StatusUnprocessableEntity
				if re.code == "invalid_request" {
					code = http.StatusBadRequest
				}
				if len(re.candidates) > 0 {
					writeError(w, code, re.code, re.msg, re.candidates)
				} else {
					writeError(w, code, re.code, re.msg)
				}
				return
			}
			s.internal(w, r, err)
			return
		}
		sub.Recipient = auth
	}
	res, err := s.cfg.Outbox.Submit(r.Context(), sub)
	if err != nil {
		var v *gateway.ValidationError
		switch {
		case errors.As(err, &v):
			writeError(w, http.StatusUnprocessableEntity, "validation_failed", v.Error(), v.Problems)
		case errors.Is(err, store.ErrIdempotencyConflict):
			writeError(w, http.StatusConflict, "idempotency_conflict", "Idempotency-Key "+strconv.Quote(key)+" was used for a different request (message "+res.Message.ID+")")
		default:
			s.internal(w, r, err)
		}
		return
	}
	m := res.Message
	if sub.Recipient == nil && !s.cfg.Tenants.Empty() {
		if _, err := s.cfg.Tenants.Resolve(RecipientRef{ABH: m.Recipient}); err != nil {
			// Stored already: a message for an office this gateway does not
			// serve still goes out if DVDV knows it; say so in the log only.
			s.cfg.Logger.Warn("message addressed to an ABH outside the tenant table", "message_id", m.ID, "recipient", m.Recipient)
		}
	}
	loc := "/v1/messages/" + m.ID
	w.Header().Set("Location", loc)
	if res.Existing {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, Accepted{ID: m.ID, Status: string(m.State), Recipient: m.Recipient, MessageUUID: m.MessageUUID,
		IdempotentReplay: res.Existing, Location: loc})
}

// MessageView is a message as the API shows it.
type MessageView struct {
	ID             string         `json:"id"`
	Status         string         `json:"status"`
	Recipient      string         `json:"recipient"`
	TypeCode       string         `json:"type_code"`
	MessageUUID    string         `json:"message_uuid"`
	ApplicationID  string         `json:"antragsidentifikation,omitempty"`
	OSCIMessageID  string         `json:"osci_message_id,omitempty"`
	Attempts       int            `json:"attempts"`
	NextAttemptAt  *time.Time     `json:"next_attempt_at,omitempty"`
	LastError      *ErrorInfo     `json:"last_error,omitempty"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	DeliveredAt    *time.Time     `json:"delivered_at,omitempty"`
	PurgedAt       *time.Time     `json:"purged_at,omitempty"`
	Timeline       []EventView    `json:"timeline,omitempty"`
	Replies        []InboxSummary `json:"replies,omitempty"`
}

// EventView is one timeline entry.
type EventView struct {
	At            time.Time `json:"at"`
	Event         string    `json:"event"`
	State         string    `json:"state"`
	Attempt       int       `json:"attempt,omitempty"`
	Code          string    `json:"code,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	OSCIMessageID string    `json:"osci_message_id,omitempty"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func messageView(m *store.Message) MessageView {
	v := MessageView{ID: m.ID, Status: string(m.State), Recipient: m.Recipient, TypeCode: m.TypeCode, MessageUUID: m.MessageUUID,
		ApplicationID: m.ApplicationID, OSCIMessageID: m.OSCIMessageID, Attempts: m.Attempts, NextAttemptAt: tp(m.NextAttemptAt),
		IdempotencyKey: m.IdempotencyKey, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, DeliveredAt: tp(m.DeliveredAt), PurgedAt: tp(m.PurgedAt)}
	if m.LastErrorCode != "" || m.LastError != "" {
		v.LastError = &ErrorInfo{Code: m.LastErrorCode, Message: m.LastError}
	}
	return v
}

// visible loads a message the principal may see (others' messages are 404,
// so ids of other clients are not even confirmed to exist).
func (s *Server) visible(w http.ResponseWriter, r *http.Request, p *Principal) *store.Message {
	m, err := s.cfg.Store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !p.Admin && m.ClientID != p.ClientID) {
		writeError(w, http.StatusNotFound, "not_found", "no message "+strconv.Quote(r.PathValue("id")))
		return nil
	}
	if err != nil {
		s.internal(w, r, err)
		return nil
	}
	return m
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, p *Principal) {
	m := s.visible(w, r, p)
	if m == nil {
		return
	}
	evs, err := s.cfg.Store.Timeline(r.Context(), m.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := messageView(m)
	for _, e := range evs {
		v.Timeline = append(v.Timeline, EventView{At: e.At, Event: e.Kind, State: string(e.State), Attempt: e.Attempt, Code: e.Code, Reason: e.Reason, OSCIMessageID: e.OSCIMessageID})
	}
	reps, err := s.cfg.Store.RepliesTo(r.Context(), m.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, it := range reps {
		v.Replies = append(v.Replies, inboxSummary(it))
	}
	writeJSON(w, http.StatusOK, v)
}

// MessageList is the response of GET /v1/messages.
type MessageList struct {
	Messages   []MessageView `json:"messages"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query()
	f := store.ListFilter{ClientID: p.ClientID, All: p.Admin, After: q.Get("cursor")}
	if st := q.Get("status"); st != "" {
		if !store.State(st).Valid() {
			writeError(w, http.StatusBadRequest, "invalid_request", "unknown status "+strconv.Quote(st), store.States)
			return
		}
		f.State = store.State(st)
	}
	n, err := queryLimit(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f.Limit = n
	ms, next, err := s.cfg.Store.List(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := MessageList{Messages: make([]MessageView, 0, len(ms)), NextCursor: next}
	for _, m := range ms {
		out.Messages = append(out.Messages, messageView(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) retryMessage(w http.ResponseWriter, r *http.Request, p *Principal) {
	m, err := s.cfg.Store.Revive(r.Context(), r.PathValue("id"), p.ClientID, p.Admin, s.cfg.Clock())
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no message "+strconv.Quote(r.PathValue("id")))
		return
	case errors.Is(err, store.ErrState):
		writeError(w, http.StatusConflict, "not_retryable", err.Error())
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Outbox.Wake()
	s.cfg.Logger.Info("dead letter revived", "message_id", m.ID, "client", p.ClientID, "resume_state", string(m.State))
	writeJSON(w, http.StatusAccepted, map[string]string{"id": m.ID, "status": string(m.State)})
}

// InboxSummary is an inbox item without its content.
type InboxSummary struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	TypeCode      string     `json:"type_code,omitempty"`
	MessageID     string     `json:"message_id,omitempty"`
	OSCIMessageID string     `json:"osci_message_id"`
	MessageUUID   string     `json:"message_uuid,omitempty"`
	ApplicationID string     `json:"antragsidentifikation,omitempty"`
	Problem       string     `json:"problem,omitempty"`
	ReceivedAt    time.Time  `json:"received_at"`
	AckedAt       *time.Time `json:"acknowledged_at,omitempty"`
	PurgedAt      *time.Time `json:"purged_at,omitempty"`
}

// InboxItemView is an inbox item with its content.
type InboxItemView struct {
	InboxSummary
	Content string `json:"content,omitempty"` // the XAusländer XML
	// ProblemDetail is the full reason an item could not be read (stored
	// encrypted and purged with the body, as it may quote content).
	ProblemDetail string `json:"problem_detail,omitempty"`
}

func inboxSummary(it *store.InboxItem) InboxSummary {
	return InboxSummary{ID: it.ID, Kind: it.Kind, TypeCode: it.TypeCode, MessageID: it.MessageID, OSCIMessageID: it.OSCIMessageID,
		MessageUUID: it.MessageUUID, ApplicationID: it.ApplicationID, Problem: it.Problem, ReceivedAt: it.ReceivedAt,
		AckedAt: tp(it.AckedAt), PurgedAt: tp(it.PurgedAt)}
}

// InboxList is the response of GET /v1/inbox.
type InboxList struct {
	Items      []InboxSummary `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func (s *Server) listInbox(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query()
	f := store.InboxFilter{ClientID: p.ClientID, All: p.Admin, IncludeAcked: q.Get("include_acknowledged") == "true"}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid_request", "cursor must be a value from next_cursor")
			return
		}
		f.After = n
	}
	n, err := queryLimit(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f.Limit = n
	items, next, err := s.cfg.Store.ListInbox(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := InboxList{Items: make([]InboxSummary, 0, len(items))}
	if next > 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
	}
	for _, it := range items {
		out.Items = append(out.Items, inboxSummary(it))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getInboxItem(w http.ResponseWriter, r *http.Request, p *Principal) {
	it, err := s.cfg.Store.InboxItem(r.Context(), r.PathValue("id"), p.ClientID, p.Admin)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no inbox item "+strconv.Quote(r.PathValue("id")))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := InboxItemView{InboxSummary: inboxSummary(it)}
	if it.PurgedAt.IsZero() {
		body, err := s.cfg.Outbox.Body(r.Context(), it.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		v.Content = string(body)
		if it.Problem != "" {
			if d, err := s.cfg.Outbox.Part(r.Context(), it.ID, store.PartProblem); err == nil {
				v.ProblemDetail = string(d)
			} else if !errors.Is(err, store.ErrNotFound) {
				s.internal(w, r, err)
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) ackInboxItem(w http.ResponseWriter, r *http.Request, p *Principal) {
	it, err := s.cfg.Store.AckInbox(r.Context(), r.PathValue("id"), p.ClientID, p.Admin, s.cfg.Clock())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no inbox item "+strconv.Quote(r.PathValue("id")))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inboxSummary(it))
}

var plzRe = regexp.MustCompile(`^[0-9]{5}$`)

// Zustaendigkeit is the response of GET /v1/zustaendigkeit.
type Zustaendigkeit struct {
	PLZ         string   `json:"plz"`
	Authorities []Tenant `json:"authorities"`
}

func (s *Server) zustaendigkeit(w http.ResponseWriter, r *http.Request, _ *Principal) {
	plz := r.URL.Query().Get("plz")
	if !plzRe.MatchString(plz) {
		writeError(w, http.StatusBadRequest, "invalid_request", "plz must be a German postal code of 5 digits")
		return
	}
	ts := s.cfg.Tenants.ByPLZ(plz)
	if ts == nil {
		ts = []Tenant{}
	}
	writeJSON(w, http.StatusOK, Zustaendigkeit{PLZ: plz, Authorities: ts})
}
