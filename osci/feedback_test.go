package osci

import (
	"errors"
	"fmt"
	"testing"
)

func TestFeedbackCodeClassification(t *testing.T) {
	for _, c := range Codes() {
		if len(c) != 4 || c.Text() == "" || c.Description() == "" {
			t.Errorf("code %q incomplete", c)
		}
		switch c[0] {
		case '0':
			if c.Severity() != SeveritySuccess || c.Retryable() {
				t.Errorf("%s: success codes are not errors", c)
			}
		case '3':
			if c.Severity() != SeverityWarning || c.Retryable() {
				t.Errorf("%s: warnings are not retried", c)
			}
		case '9':
			if c.Severity() != SeverityError {
				t.Errorf("%s: severity %v", c, c.Severity())
			}
		default:
			t.Errorf("%s: unexpected class", c)
		}
	}
	// The transient ones, and only those, are retryable.
	retry := map[Code]bool{"9000": true, "9400": true, "9503": true, "9603": true, "9710": true, "9806": true, "9808": true, "9809": true, "9811": true}
	for _, c := range Codes() {
		if c.Retryable() != retry[c] {
			t.Errorf("%s: Retryable=%v", c, c.Retryable())
		}
	}
	if Code("9999").Severity() != SeverityError || Code("9999").Retryable() || Code("9999").Known() {
		t.Error("unknown 9xxx code must be a permanent error")
	}
	if Code("9400").Level() != LevelFaultClient || Code("9000").Level() != LevelFaultServer || Code("9801").Level() != LevelOrder {
		t.Error("levels wrong")
	}
}

func TestFeedbackErr(t *testing.T) {
	if err := NewFeedback(CodeOK).Err(); err != nil {
		t.Fatal(err)
	}
	if err := NewFeedback(CodeFurtherDeliveries, CodeOKDialogOpen).Err(); err != nil {
		t.Fatalf("warning next to success is not an error: %v", err)
	}
	if err := NewFeedback(CodeFurtherDeliveries).Err(); err == nil {
		t.Fatal("a feedback without success code must be an error")
	}
	err := NewFeedback(CodeIllegalMessageID).Err()
	var fe *FeedbackError
	if !errors.As(err, &fe) || fe.FeedbackCode() != CodeIllegalMessageID || fe.Code() != "9801" || fe.Retryable() || Retryable(err) {
		t.Fatalf("9801: %v", err)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", err), ErrCode(CodeIllegalMessageID)) {
		t.Fatal("errors.Is by code")
	}
	if errors.Is(err, ErrCode(CodeNoDelivery)) {
		t.Fatal("matched the wrong code")
	}
	if !Retryable(NewFeedback(CodeSupplierInternal).Err()) {
		t.Fatal("9811 is retryable")
	}
	// One permanent code makes the whole answer permanent.
	if Retryable(NewFeedback(CodeSupplierInternal, CodeSignatureInvalid).Err()) {
		t.Fatal("mixed feedback must not be retried")
	}
	fault := &FaultError{FaultCode: "soap:Client", OSCICode: CodeControlBlock}
	if !fault.Retryable() || !errors.Is(fault, ErrCode("9400")) {
		t.Fatal("9400 fault")
	}
	if (&FaultError{FaultCode: "soap:Client", OSCICode: CodeCannotDecrypt}).Retryable() {
		t.Fatal("9202 is permanent")
	}
	if !(&FaultError{FaultCode: "soap:Server"}).Retryable() {
		t.Fatal("server faults without code are retryable")
	}
}

func TestControlBlockRules(t *testing.T) {
	req := implicitRequest(TypeStoreDelivery)
	if req.SequenceNumber != 0 || req.ConversationID != "" || len(req.Challenge) != 16 {
		t.Fatalf("implicit request %v", req)
	}
	if err := req.checkShape(TypeStoreDelivery); err != nil {
		t.Fatal(err)
	}
	if err := req.checkShape(TypeFetchDelivery); err == nil {
		t.Fatal("fetchDelivery needs an explicit dialog")
	}
	if !TypeFetchDelivery.NeedsExplicitDialog() || TypeStoreDelivery.NeedsExplicitDialog() {
		t.Fatal("NeedsExplicitDialog")
	}
	resp := ResponseControlBlock(TypeResponseToStoreDelivery, req, "42")
	if err := checkResponse(TypeResponseToStoreDelivery, req, resp, ""); err != nil {
		t.Fatal(err)
	}
	bad := resp
	bad.Response = NewChallenge()
	var cbe *ControlBlockError
	if err := checkResponse(TypeResponseToStoreDelivery, req, bad, ""); !errors.As(err, &cbe) || !Retryable(err) {
		t.Fatalf("wrong echo: %v", err)
	}
	bad = resp
	bad.SequenceNumber = 5
	if err := checkResponse(TypeResponseToStoreDelivery, req, bad, ""); err == nil {
		t.Fatal("wrong sequence number accepted")
	}

	// Explicit dialog: init, two orders, exit.
	d := &Dialog{}
	init := ControlBlock{SequenceNumber: NoSequence, Challenge: NewChallenge()}
	ir := ResponseControlBlock(TypeResponseToInitDialog, init, "7")
	if err := checkResponse(TypeResponseToInitDialog, init, ir, ""); err != nil {
		t.Fatal(err)
	}
	d.explicit, d.convID, d.seq, d.srvChal = true, ir.ConversationID, NoSequence, ir.Challenge
	for i := 0; i < 2; i++ {
		cb, err := d.nextRequest(TypeFetchDelivery)
		if err != nil {
			t.Fatal(err)
		}
		if cb.SequenceNumber != i || cb.ConversationID != "7" || cb.Response != d.srvChal {
			t.Fatalf("request %d: %v", i, cb)
		}
		r := ResponseControlBlock(TypeResponseToFetchDelivery, cb, "7")
		if err := checkResponse(TypeResponseToFetchDelivery, cb, r, d.convID); err != nil {
			t.Fatal(err)
		}
		other := r
		other.ConversationID = "8"
		if err := checkResponse(TypeResponseToFetchDelivery, cb, other, d.convID); err == nil {
			t.Fatal("foreign conversation accepted")
		}
		d.advance(r)
	}
	exit, _ := d.nextRequest(TypeExitDialog)
	er := ResponseControlBlock(TypeResponseToExitDialog, exit, "7")
	if er.Challenge != "" || er.SequenceNumber != 2 {
		t.Fatalf("exit response %v", er)
	}
	if err := checkResponse(TypeResponseToExitDialog, exit, er, "7"); err != nil {
		t.Fatal(err)
	}
}

// Only verified feedback whose every error code rejects the order itself
// proves that nothing was delivered (security review, finding 1): 9801,
// 9810, internal errors, unknown codes and anything unverified leave the
// outcome open.
func TestFeedbackRefused(t *testing.T) {
	verified := func(cs ...Code) *FeedbackError { return &FeedbackError{Feedback: NewFeedback(cs...), Verified: true} }
	for _, c := range []Code{"9600", "9601", "9602", "9700", "9701", "9800", "9802", "9805", "9809", "9904"} {
		if !verified(c).Refused() {
			t.Errorf("verified %s is a refusal", c)
		}
		if (&FeedbackError{Feedback: NewFeedback(c)}).Refused() {
			t.Errorf("unverified %s is not a refusal", c)
		}
	}
	for _, c := range []Code{"9801", "9810", "9000", "9603", "9710", "9806", "9807", "9808", "9811", "9950", "9999", "1234"} {
		if verified(c).Refused() {
			t.Errorf("%s leaves the outcome open, not a refusal", c)
		}
	}
	if verified("9601", "9810").Refused() {
		t.Error("a refusal code next to 9810 is not a refusal")
	}
	if verified(CodeFurtherDeliveries).Refused() {
		t.Error("no error code: not a refusal")
	}
	// Faults are never verified.
	var r interface{ Refused() bool }
	if errors.As(error(&FaultError{FaultCode: "soap:Client", OSCICode: "9601"}), &r) {
		t.Error("FaultError must not claim refusals")
	}
}
