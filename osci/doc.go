// Package osci implements the protocol layer of OSCI-Transport 1.2: the
// message model of the twelve orders and their responses, dialogs and
// ControlBlock rules, feedback codes as typed errors, composing and opening
// envelopes (signature, content and transport encryption), an HTTP client
// and a passive recipient. The MIME framing, keys, XML signatures and XML
// encryption come from the subpackages wire, keystore, xmldsig and xmlenc;
// a durable test intermediary is in osci/intermediary.
//
// # Messages
//
// A Message holds the header and body of one envelope of a MessageType
// (TypeStoreDelivery, TypeResponseToFetchDelivery, ...). Compose turns it
// into an Outgoing (signed with ClientSignature/SupplierSignature when
// Signing is given, transport-encrypted when TransportTo is given, with
// content containers and attachments from a RawContent or BuildContent).
// Open parses a MIME message from a reader, removes transport encryption,
// verifies the header signature (strict coverage: every header and body
// part and every attachment must be referenced), decrypts the content
// containers it has keys for and verifies their signatures. Attachments are
// spooled encrypted at rest and read as streams, so messages of hundreds of
// megabytes stay within a few megabytes of heap.
//
// # Client
//
// Client sends orders to an intermediary: GetMessageID, StoreDelivery,
// ForwardDelivery, MediateDelivery, FetchDelivery, FetchProcessCards,
// PartialStoreDelivery and PartialFetchDelivery. Orders that need an
// explicit dialog open and close one themselves; Client.Dialog keeps one
// open over several orders (Session). A response is checked against the
// request's ControlBlock (challenge, conversation id, sequence number).
//
// # Errors
//
// An error feedback of the intermediary (codes 9xxx) is a *FeedbackError, a
// SOAP fault a *FaultError; both have Code() string and match ErrCode(c)
// with errors.Is. Errors of this side have the codes of the OSCI catalogue
// as well: *ParseError (9100), *DecryptError (9200/9202), *SignatureError
// (9600/9601/9602/9700), *ControlBlockError (9400). Retryable(err) says
// whether sending again later can succeed: network errors, HTTP 5xx, 408
// and 429, a ControlBlock mismatch and the transient feedback codes are, everything else, including
// unknown codes, is not. Warnings (3xxx) are returned alongside a successful
// result in the response's Feedback.
//
// # Servers
//
// Recipient serves acceptDelivery and processDelivery for a passive
// recipient; WriteFault and WriteOutgoing are the building blocks of such a
// handler. The reference layout written by Compose is byte-for-byte the one
// of the reference implementation (apart from signature values and the
// order of ds:Reference elements), so captured envelopes can be compared.
package osci
