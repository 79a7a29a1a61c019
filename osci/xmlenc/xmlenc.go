// Package xmlenc implements the XML Encryption that OSCI-Transport 1.2
// uses: transport encryption of the whole inner MIME message for the
// intermediary, content encryption of ContentContainers for their readers,
// and attachments encrypted under their own keys.
//
// Symmetric: AES-128/192/256-GCM with 12- or 16-byte IVs (OSCI announces
// the IV length in osci128:IvLength; absent means 16), wire layout
// IV ‖ ciphertext ‖ 16-byte tag, no additional data. AES-CBC is decrypted
// only, and only when DecryptOptions.AllowLegacyCBC is set.
//
// Key transport: RSA-OAEP (xenc11#rsa-oaep with MGF1-SHA1/224/256/384/512,
// and xmlenc#rsa-oaep-mgf1p); RSA PKCS#1 v1.5 is decrypted only with
// DecryptOptions.AllowRSA15 and then with implicit rejection (a bad padding
// yields a random key, so the failure shows up as a GCM authentication
// error and leaks nothing). Private keys are used through crypto.Decrypter,
// so a key in an HSM fits.
//
// Large payloads stream ([NewSealReader], [Open], [OpenStream]) with memory
// bounded by a 64 KiB buffer. Decryption authenticates the complete
// ciphertext before it releases a single plaintext byte: the first pass
// computes and checks the GCM tag, the second decrypts (see gcm.go).
//
// [ParseEncryptedData] reads xenc:EncryptedData (with EncryptedKey,
// MgmtData, CipherValue or CipherReference); [EncryptedData.Build] writes it
// in the reference layout.
package xmlenc

import (
	"errors"
	"fmt"
)

// Namespaces.
const (
	NamespaceXEnc    = "http://www.w3.org/2001/04/xmlenc#"
	NamespaceXEnc11  = "http://www.w3.org/2009/xmlenc11#"
	NamespaceOSCI128 = "http://xoev.de/transport/osci12/8"
	NamespaceDSig    = "http://www.w3.org/2000/09/xmldsig#"
)

// Block encryption algorithms.
const (
	AES128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	AES192GCM = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
	AES256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	AES128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc" // legacy, decrypt only
	AES192CBC = "http://www.w3.org/2001/04/xmlenc#aes192-cbc"
	AES256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
)

// Key transport algorithms.
const (
	RSAOAEP      = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
	RSAOAEPMGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	RSA15        = "http://www.w3.org/2001/04/xmlenc#rsa-1_5" // legacy, decrypt only
)

// Mask generation functions for RSAOAEP.
const (
	MGF1SHA1   = "http://www.w3.org/2009/xmlenc11#mgf1sha1"
	MGF1SHA224 = "http://www.w3.org/2009/xmlenc11#mgf1sha224"
	MGF1SHA256 = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
	MGF1SHA384 = "http://www.w3.org/2009/xmlenc11#mgf1sha384"
	MGF1SHA512 = "http://www.w3.org/2009/xmlenc11#mgf1sha512"
)

// Digest methods for OAEP.
const (
	DigestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	DigestSHA224 = "http://www.w3.org/2001/04/xmldsig-more#sha224"
	DigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	DigestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)

// TransformBase64 is the transform the reference declares on every
// CipherReference, although the referenced part is raw binary unless its
// Content-Type is text/base64.
const TransformBase64 = "http://www.w3.org/2000/09/xmldsig#base64"

// Error kinds; every error from this package wraps one (errors.Is).
var (
	ErrMalformed      = errors.New("malformed encrypted data")
	ErrUnsupported    = errors.New("unsupported algorithm")
	ErrLegacy         = errors.New("legacy algorithm not enabled")
	ErrIVLength       = errors.New("invalid IV length")
	ErrTruncated      = errors.New("ciphertext truncated")
	ErrAuthentication = errors.New("authentication failed")
	ErrKeyUnwrap      = errors.New("key transport decryption failed")
	ErrKeySize        = errors.New("wrong key size")
	ErrPadding        = errors.New("invalid padding")
	ErrNoKey          = errors.New("no key for this recipient")
)

// Error is a failure with detail; Kind is one of the Err* values.
type Error struct {
	Kind   error
	Detail string
}

func (e *Error) Error() string { return "xmlenc: " + e.Kind.Error() + ": " + e.Detail }

func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

type blockAlg struct {
	keySize int
	gcm     bool
}

var blockAlgs = map[string]blockAlg{
	AES128GCM: {16, true},
	AES192GCM: {24, true},
	AES256GCM: {32, true},
	AES128CBC: {16, false},
	AES192CBC: {24, false},
	AES256CBC: {32, false},
}

// KeySize returns the key length in bytes of a block algorithm.
func KeySize(algorithm string) (int, error) {
	a, ok := blockAlgs[algorithm]
	if !ok {
		return 0, newError(ErrUnsupported, "block encryption %s", algorithm)
	}
	return a.keySize, nil
}
