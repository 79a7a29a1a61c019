package xmldsig

import (
	"crypto"
	_ "crypto/md5" // registered for legacy verification only
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
)

// Namespace of XML-DSig elements.
const NamespaceDSig = "http://www.w3.org/2000/09/xmldsig#"

// Canonicalization and transform algorithms.
const (
	C14N10             = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	C14N10WithComments = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
	TransformBase64    = "http://www.w3.org/2000/09/xmldsig#base64"
	TransformEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// Digest algorithms.
const (
	DigestSHA1     = "http://www.w3.org/2000/09/xmldsig#sha1" // legacy: verification only, behind AllowLegacy
	DigestMD5      = "http://www.w3.org/2001/04/xmldsig-more#md5"
	DigestSHA224   = "http://www.w3.org/2001/04/xmldsig-more#sha224"
	DigestSHA256   = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA384   = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	DigestSHA512   = "http://www.w3.org/2001/04/xmlenc#sha512"
	DigestSHA3_256 = "http://www.w3.org/2007/05/xmldsig-more#sha3-256"
	DigestSHA3_384 = "http://www.w3.org/2007/05/xmldsig-more#sha3-384"
	DigestSHA3_512 = "http://www.w3.org/2007/05/xmldsig-more#sha3-512"
)

// Signature algorithms.
const (
	RSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1" // legacy
	RSAMD5    = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"
	RSASHA224 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha224"
	RSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	RSASHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	RSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"

	// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash
	// (RFC 6931 §2.3.10; BouncyCastle's SHA256withRSAandMGF1).
	RSAPSSSHA224   = "http://www.w3.org/2007/05/xmldsig-more#sha224-rsa-MGF1"
	RSAPSSSHA256   = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
	RSAPSSSHA384   = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1"
	RSAPSSSHA512   = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1"
	RSAPSSSHA3_256 = "http://www.w3.org/2007/05/xmldsig-more#sha3-256-rsa-MGF1"
	RSAPSSSHA3_384 = "http://www.w3.org/2007/05/xmldsig-more#sha3-384-rsa-MGF1"
	RSAPSSSHA3_512 = "http://www.w3.org/2007/05/xmldsig-more#sha3-512-rsa-MGF1"

	ECDSASHA1   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1" // legacy
	ECDSASHA224 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha224"
	ECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	ECDSASHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	ECDSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
)

type digestAlg struct {
	hash   crypto.Hash
	legacy bool
}

var digestAlgs = map[string]digestAlg{
	DigestSHA1:     {crypto.SHA1, true},
	DigestMD5:      {crypto.MD5, true},
	DigestSHA224:   {crypto.SHA224, false},
	DigestSHA256:   {crypto.SHA256, false},
	DigestSHA384:   {crypto.SHA384, false},
	DigestSHA512:   {crypto.SHA512, false},
	DigestSHA3_256: {crypto.SHA3_256, false},
	DigestSHA3_384: {crypto.SHA3_384, false},
	DigestSHA3_512: {crypto.SHA3_512, false},
}

type keyFamily int

const (
	familyRSA keyFamily = iota + 1
	familyRSAPSS
	familyECDSA
)

type signatureAlg struct {
	family keyFamily
	hash   crypto.Hash
	legacy bool
}

var signatureAlgs = map[string]signatureAlg{
	RSASHA1:        {familyRSA, crypto.SHA1, true},
	RSAMD5:         {familyRSA, crypto.MD5, true},
	RSASHA224:      {familyRSA, crypto.SHA224, false},
	RSASHA256:      {familyRSA, crypto.SHA256, false},
	RSASHA384:      {familyRSA, crypto.SHA384, false},
	RSASHA512:      {familyRSA, crypto.SHA512, false},
	RSAPSSSHA224:   {familyRSAPSS, crypto.SHA224, false},
	RSAPSSSHA256:   {familyRSAPSS, crypto.SHA256, false},
	RSAPSSSHA384:   {familyRSAPSS, crypto.SHA384, false},
	RSAPSSSHA512:   {familyRSAPSS, crypto.SHA512, false},
	RSAPSSSHA3_256: {familyRSAPSS, crypto.SHA3_256, false},
	RSAPSSSHA3_384: {familyRSAPSS, crypto.SHA3_384, false},
	RSAPSSSHA3_512: {familyRSAPSS, crypto.SHA3_512, false},
	ECDSASHA1:      {familyECDSA, crypto.SHA1, true},
	ECDSASHA224:    {familyECDSA, crypto.SHA224, false},
	ECDSASHA256:    {familyECDSA, crypto.SHA256, false},
	ECDSASHA384:    {familyECDSA, crypto.SHA384, false},
	ECDSASHA512:    {familyECDSA, crypto.SHA512, false},
}
