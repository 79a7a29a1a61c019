package xmlenc

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // OAEP hashes
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/subtle"
)

// KeyTransport is the encryption method of an EncryptedKey.
type KeyTransport struct {
	Algorithm string
	// DigestMethod is the OAEP hash. Parsed without ds:DigestMethod it is
	// SHA-1 (the XML Encryption default).
	DigestMethod string
	// MGF is the mask generation function of RSAOAEP. Parsed without
	// xenc11:MGF it is MGF1SHA1 (the XML Encryption 1.1 default);
	// RSAOAEPMGF1P always uses MGF1 with SHA-1.
	MGF string
	// OAEPParams is the OAEP label (xenc:OAEPparams), usually empty.
	OAEPParams []byte
}

// DefaultKeyTransport is what the reference uses: RSA-OAEP with SHA-256
// and MGF1-SHA-256.
var DefaultKeyTransport = KeyTransport{Algorithm: RSAOAEP, DigestMethod: DigestSHA256, MGF: MGF1SHA256}

var oaepDigests = map[string]crypto.Hash{
	DigestSHA1:   crypto.SHA1,
	DigestSHA224: crypto.SHA224,
	DigestSHA256: crypto.SHA256,
	DigestSHA384: crypto.SHA384,
	DigestSHA512: crypto.SHA512,
}

var mgfHashes = map[string]crypto.Hash{
	MGF1SHA1:   crypto.SHA1,
	MGF1SHA224: crypto.SHA224,
	MGF1SHA256: crypto.SHA256,
	MGF1SHA384: crypto.SHA384,
	MGF1SHA512: crypto.SHA512,
}

func (kt KeyTransport) oaepOptions() (*rsa.OAEPOptions, error) {
	dm := kt.DigestMethod
	if dm == "" {
		dm = DigestSHA1
	}
	h, ok := oaepDigests[dm]
	if !ok {
		return nil, newError(ErrUnsupported, "OAEP digest %s", dm)
	}
	mgf := crypto.SHA1
	if kt.Algorithm == RSAOAEP {
		m := kt.MGF
		if m == "" {
			m = MGF1SHA1
		}
		if mgf, ok = mgfHashes[m]; !ok {
			return nil, newError(ErrUnsupported, "mask generation function %s", m)
		}
	} else if kt.MGF != "" && kt.MGF != MGF1SHA1 {
		return nil, newError(ErrMalformed, "%s fixes MGF1-SHA1, %s given", RSAOAEPMGF1P, kt.MGF)
	}
	return &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: kt.OAEPParams}, nil
}

// WrapKey encrypts a symmetric key for the holder of pub (RSA). RSA 1.5
// is refused.
func WrapKey(kt KeyTransport, pub crypto.PublicKey, key []byte) ([]byte, error) {
	rpub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, newError(ErrUnsupported, "key transport to a %T key", pub)
	}
	switch kt.Algorithm {
	case RSAOAEP, RSAOAEPMGF1P:
	case RSA15:
		return nil, newError(ErrLegacy, "%s is accepted for decryption only", RSA15)
	default:
		return nil, newError(ErrUnsupported, "key transport %s", kt.Algorithm)
	}
	opts, err := kt.oaepOptions()
	if err != nil {
		return nil, err
	}
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, rpub, key, opts)
	if err != nil {
		return nil, newError(ErrMalformed, "RSA-OAEP: %v", err)
	}
	return ct, nil
}

// UnwrapKey decrypts a wrapped key of keySize bytes with d (a software key
// or an HSM). A wrong private key or modified data gives ErrKeyUnwrap. With
// RSA 1.5 (only if opts.AllowRSA15) a bad padding yields a random key
// instead of an error (implicit rejection against Bleichenbacher's attack);
// the data decryption that follows then fails authentication.
func UnwrapKey(kt KeyTransport, d crypto.Decrypter, wrapped []byte, keySize int, opts DecryptOptions) ([]byte, error) {
	if d == nil {
		return nil, newError(ErrNoKey, "no private key")
	}
	if _, ok := d.Public().(*rsa.PublicKey); !ok {
		return nil, newError(ErrUnsupported, "key transport with a %T key", d.Public())
	}
	switch kt.Algorithm {
	case RSAOAEP, RSAOAEPMGF1P:
		o, err := kt.oaepOptions()
		if err != nil {
			return nil, err
		}
		key, err := d.Decrypt(rand.Reader, wrapped, o)
		if err != nil {
			return nil, newError(ErrKeyUnwrap, "RSA-OAEP: wrong private key or modified EncryptedKey")
		}
		if len(key) != keySize {
			return nil, newError(ErrKeySize, "unwrapped key has %d bytes, the data algorithm needs %d", len(key), keySize)
		}
		return key, nil
	case RSA15:
		if !opts.AllowRSA15 {
			return nil, newError(ErrLegacy, "%s needs DecryptOptions.AllowRSA15", RSA15)
		}
		key, err := d.Decrypt(rand.Reader, wrapped, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: keySize})
		if err != nil {
			return nil, newError(ErrKeyUnwrap, "RSA PKCS#1 v1.5: %v", err)
		}
		if subtle.ConstantTimeEq(int32(len(key)), int32(keySize)) != 1 {
			return nil, newError(ErrKeySize, "unwrapped key has %d bytes, needs %d", len(key), keySize)
		}
		return key, nil
	}
	return nil, newError(ErrUnsupported, "key transport %s", kt.Algorithm)
}
