package testpki

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Deterministic generation, for the explicit test-only option.
//
// Go 1.26 ignores the io.Reader given to rsa.GenerateKey, ecdsa.GenerateKey
// and crypto/rand.Prime (a secure source is always used), deliberately, so
// seeded key generation has to be done here: a DRBG per entity feeds a
// prime search (random odd candidate with the top two bits set, sieved by
// small primes, then 20 Miller-Rabin rounds plus Baillie-PSW via
// big.Int.ProbablyPrime) and the RSA key is assembled from the primes; EC
// keys take a scalar from the DRBG by rejection sampling. Certificates and
// CRLs are signed with RSA PKCS#1 v1.5, which is deterministic, and the
// PKCS#12 encoder takes our reader for its salts and IVs.
//
// The DRBG is AES-256-CTR keyed with SHA-256(label ‖ seed ‖ entity name), so
// each entity's material depends only on the seed and its own name, not on
// the order of generation or on entities added later. The construction is
// fixed here (not borrowed from a library whose output might change), which
// is what bit-for-bit regeneration needs.

type drbg struct{ stream cipher.Stream }

func newDRBG(seed []byte, name string) io.Reader {
	h := sha256.New()
	h.Write([]byte("xagw testpki drbg v1\x00"))
	h.Write(seed)
	h.Write([]byte{0})
	h.Write([]byte(name))
	block, _ := aes.NewCipher(h.Sum(nil))
	var iv [aes.BlockSize]byte
	return &drbg{stream: cipher.NewCTR(block, iv[:])}
}

func (d *drbg) Read(p []byte) (int, error) {
	clear(p)
	d.stream.XORKeyStream(p, p)
	return len(p), nil
}

// smallPrimes are the odd primes below 2^14 used to sieve candidates.
var smallPrimes = func() []uint64 {
	const limit = 1 << 14
	composite := make([]bool, limit)
	var out []uint64
	for i := 3; i < limit; i += 2 {
		if composite[i] {
			continue
		}
		out = append(out, uint64(i))
		for j := i * i; j < limit; j += 2 * i {
			composite[j] = true
		}
	}
	return out
}()

// deterministicPrime returns a prime of exactly bits bits whose top two bits
// are set (so a product of two has exactly 2·bits bits) and for which
// gcd(p-1, e) = 1.
func deterministicPrime(r io.Reader, bits int, e uint64) (*big.Int, error) {
	if bits%8 != 0 || bits < 512 {
		return nil, fmt.Errorf("testpki: prime size %d not supported", bits)
	}
	buf := make([]byte, bits/8)
	residues := make([]uint64, len(smallPrimes))
	mod := new(big.Int)
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		buf[0] |= 0xC0
		buf[len(buf)-1] |= 1
		base := new(big.Int).SetBytes(buf)
		for i, sp := range smallPrimes {
			residues[i] = mod.Mod(base, new(big.Int).SetUint64(sp)).Uint64()
		}
		rE := mod.Mod(base, new(big.Int).SetUint64(e)).Uint64()
	search:
		for delta := uint64(0); delta < 1<<16; delta += 2 {
			for i, sp := range smallPrimes {
				if (residues[i]+delta)%sp == 0 {
					continue search
				}
			}
			p := new(big.Int).Add(base, new(big.Int).SetUint64(delta))
			if p.BitLen() != bits {
				break
			}
			if (rE+delta)%e == 1 { // e (prime) divides p-1
				continue
			}
			if p.ProbablyPrime(20) {
				return p, nil
			}
		}
	}
}

// deterministicRSAKey builds an RSA key from DRBG-derived primes.
func deterministicRSAKey(r io.Reader, bits int) (*rsa.PrivateKey, error) {
	const e = 65537
	for {
		p, err := deterministicPrime(r, bits/2, e)
		if err != nil {
			return nil, err
		}
		q, err := deterministicPrime(r, bits/2, e)
		if err != nil {
			return nil, err
		}
		// FIPS 186-5 asks |p-q| > 2^(bits/2-100); with random primes this
		// fails with negligible probability, but check anyway.
		diff := new(big.Int).Sub(p, q)
		if diff.Abs(diff).BitLen() <= bits/2-100 {
			continue
		}
		if p.Cmp(q) < 0 {
			p, q = q, p
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			continue
		}
		p1 := new(big.Int).Sub(p, big.NewInt(1))
		q1 := new(big.Int).Sub(q, big.NewInt(1))
		gcd := new(big.Int).GCD(nil, nil, p1, q1)
		lambda := new(big.Int).Div(new(big.Int).Mul(p1, q1), gcd)
		d := new(big.Int).ModInverse(big.NewInt(e), lambda)
		if d == nil {
			continue
		}
		key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
		key.Precompute()
		if err := key.Validate(); err != nil {
			return nil, fmt.Errorf("testpki: derived RSA key invalid: %w", err)
		}
		return key, nil
	}
}

// deterministicECKey draws a scalar in [1, n-1] by rejection sampling.
func deterministicECKey(r io.Reader, curve elliptic.Curve) (*ecdsa.PrivateKey, error) {
	params := curve.Params()
	size := (params.BitSize + 7) / 8
	buf := make([]byte, size)
	excess := uint(size*8 - params.BitSize)
	for i := 0; i < 1000; i++ {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		buf[0] &= 0xFF >> excess
		k, err := ecdsa.ParseRawPrivateKey(curve, buf)
		if err == nil {
			return k, nil
		}
	}
	return nil, errors.New("testpki: could not draw an EC scalar")
}

// keySpec names a key type: "rsa-2048", "rsa-4096", "ecdsa-p256", "ecdsa-p384".
type keySpec string

func (k keySpec) generate(r io.Reader, deterministic bool) (crypto.Signer, error) {
	switch k {
	case "rsa-2048", "rsa-3072", "rsa-4096":
		var bits int
		fmt.Sscanf(string(k), "rsa-%d", &bits)
		if deterministic {
			return deterministicRSAKey(r, bits)
		}
		return rsa.GenerateKey(rand.Reader, bits)
	case "ecdsa-p256", "ecdsa-p384":
		curve := elliptic.P256()
		if k == "ecdsa-p384" {
			curve = elliptic.P384()
		}
		if deterministic {
			return deterministicECKey(r, curve)
		}
		return ecdsa.GenerateKey(curve, rand.Reader)
	}
	return nil, fmt.Errorf("testpki: unknown key type %q", k)
}
