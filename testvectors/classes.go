package testvectors

// Error classes: the stable identifiers a rejection is expected with. A
// vendor's harness maps its own error codes onto them; the manifest and the
// reports use only these strings, and they never change meaning.
//
// When one defect trips several checks (a bad nachrichtenUUID breaks both
// the XSD pattern and the header rules), the class reported is the first in
// [ClassPrecedence], the most specific one.
const (
	// ClassXML: not well-formed, over the limits, or a DTD/entity.
	ClassXML = "xml"
	// ClassNamespace: the root element's namespace is not an XAusländer
	// (or XInneres reply) namespace the reader knows.
	ClassNamespace = "namespace"
	// ClassVersion: the root attributes standard/version do not name the
	// standard and version of the namespace.
	ClassVersion = "version"
	// ClassHeader: the Nachrichtenkopf is wrong: nachrichtentyp does not
	// match the root element, nachrichtenUUID is not a UUID, leser or autor
	// is missing.
	ClassHeader = "header"
	// ClassCodeList: a coded value is not in its code list, or the list
	// version (listVersionID) does not exist.
	ClassCodeList = "codelist"
	// ClassSchema: the document is not valid against the XSD.
	ClassSchema = "schema"

	// ClassOSCIDigest: a signed part was changed (a reference digest does
	// not match).
	ClassOSCIDigest = "osci.digest"
	// ClassOSCISignature: the signature value does not verify.
	ClassOSCISignature = "osci.signature"
	// ClassOSCIDecrypt: authenticated decryption failed (changed cipher
	// text, truncated GCM tag).
	ClassOSCIDecrypt = "osci.decrypt"
	// ClassOSCIIVLength: the announced IV length (osci128:IvLength) does
	// not match the algorithm or the data.
	ClassOSCIIVLength = "osci.iv-length"
	// ClassOSCIWrapping: duplicate Id attributes or a reference resolving
	// to something other than the signed element (signature wrapping).
	ClassOSCIWrapping = "osci.wrapping"
	// ClassOSCICertExpired: a signer certificate had expired at the
	// reference time.
	ClassOSCICertExpired = "osci.certificate-expired"
	// ClassOSCICertNotYetValid: a signer certificate was not yet valid at
	// the reference time.
	ClassOSCICertNotYetValid = "osci.certificate-not-yet-valid"
	// ClassOSCICertRevoked: a certificate is on its CA's revocation list.
	ClassOSCICertRevoked = "osci.certificate-revoked"
	// ClassOSCIAlgorithm: a forbidden algorithm (SHA-1 signature or
	// digest, …).
	ClassOSCIAlgorithm = "osci.algorithm"
	// ClassOSCIWrongKey: the message is not encrypted for the key the
	// reader holds.
	ClassOSCIWrongKey = "osci.wrong-key"
	// ClassOSCIMessage: the OSCI message itself is malformed (MIME, SOAP,
	// control block, missing parts).
	ClassOSCIMessage = "osci.message"

	// ClassInternal is never expected: it says the checker itself failed,
	// which always fails the vector.
	ClassInternal = "internal"
)

// ClassPrecedence orders the classes from most to least specific.
var ClassPrecedence = []string{
	ClassInternal,
	ClassXML, ClassNamespace, ClassVersion, ClassHeader, ClassCodeList, ClassSchema,
	ClassOSCIWrongKey, ClassOSCIAlgorithm, ClassOSCICertRevoked, ClassOSCICertExpired, ClassOSCICertNotYetValid,
	ClassOSCIWrapping, ClassOSCIIVLength, ClassOSCIDecrypt, ClassOSCIDigest, ClassOSCISignature,
	ClassOSCIMessage,
}

// KnownClass reports whether c is a class a vector may expect.
func KnownClass(c string) bool {
	if c == ClassInternal {
		return false
	}
	for _, k := range ClassPrecedence {
		if k == c {
			return true
		}
	}
	return false
}

// Primary returns the most specific class among classes ("" for none).
func Primary(classes []string) string {
	for _, k := range ClassPrecedence {
		for _, c := range classes {
			if c == k {
				return k
			}
		}
	}
	if len(classes) > 0 {
		return ClassInternal // an unknown class: fail closed
	}
	return ""
}
