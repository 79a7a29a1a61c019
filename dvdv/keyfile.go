package dvdv

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"software.sslmate.com/src/go-pkcs12"
)

// LoadStandaloneAuth reads the DVDV client certificate and its private key
// from a PKCS#12 file (opened with pin) or from PEM files (the certificate
// and an unencrypted PKCS#1/PKCS#8 key, in one file or in certFile and
// keyFile). The pin comes from a file or the environment, never from a
// command-line flag.
//
// This small loader exists because dvdv must not depend on the OSCI key
// store; it reads exactly the client credential and nothing else.
func LoadStandaloneAuth(certFile, keyFile, pin string) (*StandaloneAuth, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("dvdv: client certificate: %w", err)
	}
	var cert *x509.Certificate
	var key any
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		key, cert, _, err = pkcs12.DecodeChain(data, pin)
		if err != nil {
			return nil, fmt.Errorf("dvdv: client certificate %s is not a PKCS#12 file this PIN opens: %w", certFile, err)
		}
	} else {
		if keyFile != "" && keyFile != certFile {
			kd, err := os.ReadFile(keyFile)
			if err != nil {
				return nil, fmt.Errorf("dvdv: client key: %w", err)
			}
			data = append(append(data, '\n'), kd...)
		}
		cert, key, err = parsePEMCredential(data)
		if err != nil {
			return nil, fmt.Errorf("dvdv: %s: %w", certFile, err)
		}
	}
	signer, ok := key.(crypto.Signer)
	if !ok || signer == nil {
		return nil, fmt.Errorf("dvdv: the private key in %s cannot sign (%T)", certFile, key)
	}
	a := &StandaloneAuth{Certificate: cert, Key: signer}
	if err := a.validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func parsePEMCredential(data []byte) (*x509.Certificate, any, error) {
	var cert *x509.Certificate
	var key any
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			if cert != nil {
				continue // chain certificates follow the client's own
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("certificate: %w", err)
			}
			cert = c
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("PKCS#8 private key: %w", err)
			}
			key = k
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("PKCS#1 private key: %w", err)
			}
			key = k
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, errors.New("encrypted PEM keys are not supported; use a PKCS#12 file with a PIN")
		}
	}
	if cert == nil {
		return nil, nil, errors.New("no CERTIFICATE block")
	}
	if key == nil {
		return nil, nil, errors.New("no private key block (PRIVATE KEY or RSA PRIVATE KEY)")
	}
	return cert, key, nil
}
