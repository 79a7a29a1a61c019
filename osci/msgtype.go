package osci

import "fmt"

// MessageType identifies one of the OSCI 1.2 message types (orders and
// their responses) plus the two message-level envelopes that carry no order
// (a transport-encrypted envelope and a SOAP fault).
type MessageType int

// The OSCI 1.2 message types. The zero value is TypeUnknown.
const (
	TypeUnknown MessageType = iota

	TypeInitDialog
	TypeExitDialog
	TypeGetMessageID
	TypeStoreDelivery
	TypeFetchDelivery
	TypeFetchProcessCard
	TypeForwardDelivery
	TypeAcceptDelivery
	TypeMediateDelivery
	TypeProcessDelivery
	TypePartialStoreDelivery
	TypePartialFetchDelivery

	TypeResponseToInitDialog
	TypeResponseToExitDialog
	TypeResponseToGetMessageID
	TypeResponseToStoreDelivery
	TypeResponseToFetchDelivery
	TypeResponseToFetchProcessCard
	TypeResponseToForwardDelivery
	TypeResponseToAcceptDelivery
	TypeResponseToMediateDelivery
	TypeResponseToProcessDelivery
	TypeResponseToPartialStoreDelivery
	TypeResponseToPartialFetchDelivery

	// TypeEncrypted is the outer envelope of a transport-encrypted message
	// (soapMessageEncrypted.xsd).
	TypeEncrypted
	// TypeFault is a SOAP fault on message level (soapMessageFault.xsd).
	TypeFault

	typeCount
)

// orderBlock says where the order-specific element of a message type lives:
// as a SOAP header block (with an Id, signed by reference) or as the single
// child of the SOAP Body.
type orderBlock int

const (
	blockNone orderBlock = iota
	blockHeader
	blockBody
)

type typeInfo struct {
	name    string     // local name of the order element and base of the xsd name
	ns      string     // namespace of the order element
	block   orderBlock // where the order element lives
	class   string     // class name used in xsi:schemaLocation (soap<Class>.xsd)
	request bool
	pair    MessageType // response for a request, request for a response
}

var typeInfos = [typeCount]typeInfo{
	TypeUnknown:              {name: "unknown"},
	TypeInitDialog:           {"initDialog", NSOSCI, blockBody, "InitDialog", true, TypeResponseToInitDialog},
	TypeExitDialog:           {"exitDialog", NSOSCI, blockBody, "ExitDialog", true, TypeResponseToExitDialog},
	TypeGetMessageID:         {"getMessageId", NSOSCI, blockBody, "GetMessageId", true, TypeResponseToGetMessageID},
	TypeStoreDelivery:        {"storeDelivery", NSOSCI, blockHeader, "StoreDelivery", true, TypeResponseToStoreDelivery},
	TypeFetchDelivery:        {"fetchDelivery", NSOSCI, blockHeader, "FetchDelivery", true, TypeResponseToFetchDelivery},
	TypeFetchProcessCard:     {"fetchProcessCard", NSOSCI, blockBody, "FetchProcessCard", true, TypeResponseToFetchProcessCard},
	TypeForwardDelivery:      {"forwardDelivery", NSOSCI, blockHeader, "ForwardDelivery", true, TypeResponseToForwardDelivery},
	TypeAcceptDelivery:       {"acceptDelivery", NSOSCI, blockHeader, "AcceptDelivery", true, TypeResponseToAcceptDelivery},
	TypeMediateDelivery:      {"mediateDelivery", NSOSCI, blockHeader, "MediateDelivery", true, TypeResponseToMediateDelivery},
	TypeProcessDelivery:      {"processDelivery", NSOSCI, blockHeader, "ProcessDelivery", true, TypeResponseToProcessDelivery},
	TypePartialStoreDelivery: {"partialStoreDelivery", NSOSCI2017, blockHeader, "PartialStoreDelivery", true, TypeResponseToPartialStoreDelivery},
	TypePartialFetchDelivery: {"partialFetchDelivery", NSOSCI2017, blockHeader, "PartialFetchDelivery", true, TypeResponseToPartialFetchDelivery},

	TypeResponseToInitDialog:           {"responseToInitDialog", NSOSCI, blockBody, "ResponseToInitDialog", false, TypeInitDialog},
	TypeResponseToExitDialog:           {"responseToExitDialog", NSOSCI, blockBody, "ResponseToExitDialog", false, TypeExitDialog},
	TypeResponseToGetMessageID:         {"responseToGetMessageId", NSOSCI, blockBody, "ResponseToGetMessageId", false, TypeGetMessageID},
	TypeResponseToStoreDelivery:        {"responseToStoreDelivery", NSOSCI, blockHeader, "ResponseToStoreDelivery", false, TypeStoreDelivery},
	TypeResponseToFetchDelivery:        {"responseToFetchDelivery", NSOSCI, blockHeader, "ResponseToFetchDelivery", false, TypeFetchDelivery},
	TypeResponseToFetchProcessCard:     {"responseToFetchProcessCard", NSOSCI, blockBody, "ResponseToFetchProcessCard", false, TypeFetchProcessCard},
	TypeResponseToForwardDelivery:      {"responseToForwardDelivery", NSOSCI, blockHeader, "ResponseToForwardDelivery", false, TypeForwardDelivery},
	TypeResponseToAcceptDelivery:       {"responseToAcceptDelivery", NSOSCI, blockHeader, "ResponseToAcceptDelivery", false, TypeAcceptDelivery},
	TypeResponseToMediateDelivery:      {"responseToMediateDelivery", NSOSCI, blockHeader, "ResponseToMediateDelivery", false, TypeMediateDelivery},
	TypeResponseToProcessDelivery:      {"responseToProcessDelivery", NSOSCI, blockHeader, "ResponseToProcessDelivery", false, TypeProcessDelivery},
	TypeResponseToPartialStoreDelivery: {"responseToPartialStoreDelivery", NSOSCI2017, blockHeader, "ResponseToPartialStoreDelivery", false, TypePartialStoreDelivery},
	TypeResponseToPartialFetchDelivery: {"responseToPartialFetchDelivery", NSOSCI2017, blockHeader, "ResponseToPartialFetchDelivery", false, TypePartialFetchDelivery},

	TypeEncrypted: {name: "messageEncrypted", class: "MessageEncrypted"},
	TypeFault:     {name: "messageFault", class: "MessageFault"},
}

// String returns the OSCI element name of the type, e.g. "storeDelivery" or
// "responseToFetchDelivery".
func (t MessageType) String() string {
	if t < 0 || t >= typeCount {
		return fmt.Sprintf("MessageType(%d)", int(t))
	}
	return typeInfos[t].name
}

func (t MessageType) info() typeInfo {
	if t < 0 || t >= typeCount {
		return typeInfos[TypeUnknown]
	}
	return typeInfos[t]
}

// IsRequest reports whether t is an order sent by a client (or, for
// acceptDelivery and processDelivery, by the intermediary to a passive
// recipient).
func (t MessageType) IsRequest() bool { return t.info().request }

// IsResponse reports whether t is the response to an order.
func (t MessageType) IsResponse() bool {
	i := t.info()
	return !i.request && i.pair != TypeUnknown
}

// Response returns the response type of a request type (TypeUnknown
// otherwise).
func (t MessageType) Response() MessageType {
	if !t.IsRequest() {
		return TypeUnknown
	}
	return t.info().pair
}

// Request returns the request type a response type answers (TypeUnknown
// otherwise).
func (t MessageType) Request() MessageType {
	if !t.IsResponse() {
		return TypeUnknown
	}
	return t.info().pair
}

// SchemaFile returns the file name of the SOAP envelope schema in the
// official OSCI XSD set that validates envelopes of this type, for example
// "soapStoreDelivery.xsd".
func (t MessageType) SchemaFile() string {
	c := t.info().class
	if c == "" {
		return ""
	}
	return "soap" + c + ".xsd"
}

// orderID returns the Id attribute the reference writes on a header order
// element: its local name in lower case.
func (t MessageType) orderID() string { return lowerASCII(t.info().name) }

// typeByOrder finds the message type whose order element has the given
// namespace and local name.
func typeByOrder(ns, local string) MessageType {
	for t := TypeInitDialog; t < TypeEncrypted; t++ {
		if i := typeInfos[t]; i.name == local && i.ns == ns {
			return t
		}
	}
	return TypeUnknown
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
