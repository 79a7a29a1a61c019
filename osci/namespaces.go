package osci

// XML namespaces of OSCI 1.2 envelopes.
const (
	NSSOAP     = "http://schemas.xmlsoap.org/soap/envelope/"
	NSOSCI     = "http://www.osci.de/2002/04/osci"
	NSOSCI2017 = "http://xoev.de/transport/osci12/7"
	NSOSCI128  = "http://xoev.de/transport/osci12/8"
	NSDS       = "http://www.w3.org/2000/09/xmldsig#"
	NSXENC     = "http://www.w3.org/2001/04/xmlenc#"
	NSXENC11   = "http://www.w3.org/2009/xmlenc11#"
	NSXSI      = "http://www.w3.org/2001/XMLSchema-instance"
	NSXML      = "http://www.w3.org/XML/1998/namespace"
)

// SOAP actor URIs. Header blocks addressed to the next node use ActorNext;
// the certificate headers use ActorNone, a SOAP 1.2 URI the reference
// implementation writes into its SOAP 1.1 envelopes (and the OSCI schemas
// fix as the only allowed value).
const (
	ActorNext = "http://schemas.xmlsoap.org/soap/actor/next"
	ActorNone = "http://www.w3.org/2001/12/soap-envelope/actor/none"
)

// envelopeNS is the namespace declaration block the reference writes on the
// envelope and repeats on every Id-carrying header block and the Body, in
// canonical (prefix) order. Writing it on every signed element makes the
// element's inclusive C14N form independent of where it sits.
const envelopeNS = ` xmlns:ds="` + NSDS + `" xmlns:osci="` + NSOSCI + `" xmlns:soap="` + NSSOAP + `" xmlns:xenc="` + NSXENC + `" xmlns:xsi="` + NSXSI + `"`

// envelopeNS2017 is envelopeNS plus the osci2017 prefix, in canonical order,
// for header blocks in the osci2017 namespace (FeatureDescription and the
// partial message orders).
const envelopeNS2017 = ` xmlns:ds="` + NSDS + `" xmlns:osci="` + NSOSCI + `" xmlns:osci2017="` + NSOSCI2017 + `" xmlns:soap="` + NSSOAP + `" xmlns:xenc="` + NSXENC + `" xmlns:xsi="` + NSXSI + `"`

// encryptedEnvelopeNS is the namespace block of the outer envelope of a
// transport-encrypted message (no osci prefix).
const encryptedEnvelopeNS = ` xmlns:ds="` + NSDS + `" xmlns:soap="` + NSSOAP + `" xmlns:xenc="` + NSXENC + `" xmlns:xsi="` + NSXSI + `"`

// schemaLocationSuffix follows "soap<Type>.xsd" in xsi:schemaLocation.
const schemaLocationSuffix = ` http://www.w3.org/2000/09/xmldsig# oscisig.xsd http://www.w3.org/2001/04/xmlenc# oscienc.xsd`

// The MIME Content-ID of the SOAP part of every OSCI message and of the
// ciphertext part of a transport-encrypted message.
const (
	RootContentID      = "osci@message"
	TransportContentID = "osci_enc"
)
