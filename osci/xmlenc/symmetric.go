package xmlenc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/xagw/xagw/osci/wire"
)

// Method is the data encryption method of an EncryptedData.
type Method struct {
	Algorithm string
	// IVLength in bytes. GCM: 12 or 16; a parsed method without
	// osci128:IvLength has 16 (the OSCI rule). CBC: 16.
	IVLength int
}

// DefaultMethod is what the reference uses: AES-256-GCM with a 12-byte IV.
var DefaultMethod = Method{Algorithm: AES256GCM, IVLength: 12}

// DecryptOptions enable legacy algorithms for decryption. They are never
// available for encryption.
type DecryptOptions struct {
	// AllowLegacyCBC accepts AES-CBC content (no integrity protection).
	AllowLegacyCBC bool
	// AllowRSA15 accepts RSA PKCS#1 v1.5 key transport.
	AllowRSA15 bool
}

func (m Method) check(decrypt bool, opts DecryptOptions) (blockAlg, error) {
	a, ok := blockAlgs[m.Algorithm]
	if !ok {
		return a, newError(ErrUnsupported, "block encryption %s", m.Algorithm)
	}
	if a.gcm {
		if m.IVLength != 12 && m.IVLength != 16 {
			return a, newError(ErrIVLength, "%d bytes announced for %s (12 or 16 supported)", m.IVLength, m.Algorithm)
		}
		return a, nil
	}
	if !decrypt {
		return a, newError(ErrLegacy, "%s is accepted for decryption only", m.Algorithm)
	}
	if !opts.AllowLegacyCBC {
		return a, newError(ErrLegacy, "%s (no integrity protection) needs DecryptOptions.AllowLegacyCBC", m.Algorithm)
	}
	if m.IVLength != aes.BlockSize {
		return a, newError(ErrIVLength, "%d bytes for %s (16 required)", m.IVLength, m.Algorithm)
	}
	return a, nil
}

func checkKey(a blockAlg, m Method, key []byte) error {
	if len(key) != a.keySize {
		return newError(ErrKeySize, "%d-byte key for %s (needs %d)", len(key), m.Algorithm, a.keySize)
	}
	return nil
}

// NewKey returns a random key for a block algorithm.
func NewKey(algorithm string) ([]byte, error) {
	n, err := KeySize(algorithm)
	if err != nil {
		return nil, err
	}
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, nil
}

// SealedSize is the length of IV ‖ ciphertext ‖ tag for n plaintext bytes.
func SealedSize(m Method, n int64) int64 { return int64(m.IVLength) + n + gcmTagSize }

// Seal encrypts plaintext with a fresh random IV and returns
// IV ‖ ciphertext ‖ tag. GCM only.
func Seal(m Method, key, plaintext []byte) ([]byte, error) {
	a, err := m.check(false, DecryptOptions{})
	if err != nil {
		return nil, err
	}
	if err := checkKey(a, m, key); err != nil {
		return nil, err
	}
	if uint64(len(plaintext)) > maxGCMPlaintext {
		return nil, newError(ErrMalformed, "plaintext exceeds the GCM limit of %d bytes", uint64(maxGCMPlaintext))
	}
	iv, err := randomIV(m.IVLength)
	if err != nil {
		return nil, err
	}
	// The plaintext is in memory anyway: one call of cipher.AEAD, the
	// output in one allocation (same bytes as NewSealReader's stream).
	return sealOneShot(key, iv, plaintext)
}

// NewSealReader returns a reader that yields IV ‖ ciphertext ‖ tag for the
// plaintext read from src, with a fresh random IV. Memory use is one 64 KiB
// chunk whatever the size; the output length is SealedSize(m, n) for n
// plaintext bytes, so it can be announced (HTTP, MIME Content-Length)
// before streaming.
func NewSealReader(m Method, key []byte, src io.Reader) (io.Reader, error) {
	a, err := m.check(false, DecryptOptions{})
	if err != nil {
		return nil, err
	}
	if err := checkKey(a, m, key); err != nil {
		return nil, err
	}
	iv, err := randomIV(m.IVLength)
	if err != nil {
		return nil, err
	}
	return &sealSmallOrStream{key: key, iv: iv, src: src}, nil
}

// sealSmallOrStream seals a plaintext that fits one chunk (with the IV and
// the tag) with the standard library's GCM in one call, in place in a
// pooled chunk buffer, and streams anything longer. Most OSCI
// messages are a few tens of kilobytes, and setting up the streaming GHASH
// (powers of H computed in Go) cost more than sealing them. The output is
// the same bytes either way (tests compare the streaming path with
// cipher.AEAD), and memory stays at one chunk.
type sealSmallOrStream struct {
	key, iv []byte
	src     io.Reader
	r       io.Reader // chosen at the first Read
}

func (s *sealSmallOrStream) Read(p []byte) (int, error) {
	if s.r == nil {
		// The plaintext is read after room for the IV and followed by room
		// for the tag, so that a short one is sealed in place in the pooled
		// buffer (cipher.AEAD allows dst to be the plaintext's own storage)
		// and sent from there.
		pooled := chunkBuffers.Get().(*[]byte)
		ivLen := len(s.iv)
		first := (*pooled)[ivLen : gcmChunk-gcmTagSize]
		n, err := io.ReadFull(s.src, first)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			aead, err := newAEAD(s.key, ivLen)
			if err != nil {
				chunkBuffers.Put(pooled)
				return 0, err
			}
			buf := *pooled
			copy(buf, s.iv)
			sealed := aead.Seal(buf[ivLen:ivLen], s.iv, buf[ivLen:ivLen+n], nil)
			s.r = &pooledOutput{out: buf[:ivLen+len(sealed)], pooled: pooled}
		case err != nil:
			chunkBuffers.Put(pooled)
			return 0, err
		default:
			// Longer than a chunk: stream, starting with the chunk read.
			head := bytes.Clone(first)
			chunkBuffers.Put(pooled)
			sr, err := newSealReader(s.key, s.iv, io.MultiReader(bytes.NewReader(head), s.src))
			if err != nil {
				return 0, err
			}
			s.r = sr
		}
	}
	return s.r.Read(p)
}

// pooledOutput reads out a pooled buffer and gives it back at the end.
type pooledOutput struct {
	out    []byte
	pooled *[]byte
}

func (o *pooledOutput) Read(p []byte) (int, error) {
	if len(o.out) == 0 {
		if o.pooled != nil {
			chunkBuffers.Put(o.pooled)
			o.pooled = nil
		}
		return 0, io.EOF
	}
	n := copy(p, o.out)
	o.out = o.out[n:]
	return n, nil
}

// sealOneShot returns IV ‖ ciphertext ‖ tag made by cipher.AEAD.
func sealOneShot(key, iv, plain []byte) ([]byte, error) {
	aead, err := newAEAD(key, len(iv))
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(iv), len(iv)+len(plain)+gcmTagSize)
	copy(out, iv)
	return aead.Seal(out, iv, plain, nil), nil
}

func newAEAD(key []byte, ivLen int) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, newError(ErrKeySize, "%v", err)
	}
	if ivLen == 12 {
		return cipher.NewGCM(block)
	}
	return cipher.NewGCMWithNonceSize(block, ivLen)
}

// openOneShotMax is the largest ciphertext Open checks and decrypts in
// memory with cipher.AEAD instead of in two streaming passes.
const openOneShotMax = 1 << 20

// Decrypt decrypts IV ‖ ciphertext ‖ tag held in memory (CipherValue
// content). GCM is authenticated as a whole before anything is returned.
func Decrypt(m Method, key, data []byte, opts DecryptOptions) ([]byte, error) {
	a, err := m.check(true, opts)
	if err != nil {
		return nil, err
	}
	if err := checkKey(a, m, key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, newError(ErrKeySize, "%v", err)
	}
	if !a.gcm {
		return decryptCBC(block, data)
	}
	if len(data) < m.IVLength+gcmTagSize {
		return nil, newError(ErrTruncated, "%d bytes, shorter than IV (%d) and tag (%d)", len(data), m.IVLength, gcmTagSize)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, m.IVLength)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, data[:m.IVLength], data[m.IVLength:], nil)
	if err != nil {
		return nil, newError(ErrAuthentication, "GCM tag mismatch (wrong key, wrong IV length %d, or modified data)", m.IVLength)
	}
	return pt, nil
}

// decryptCBC implements XML Encryption's CBC: IV ‖ ciphertext, padding
// whose last byte gives its length (the other padding bytes are arbitrary).
func decryptCBC(block cipher.Block, data []byte) ([]byte, error) {
	if len(data) < 2*aes.BlockSize || len(data)%aes.BlockSize != 0 {
		return nil, newError(ErrTruncated, "CBC data of %d bytes", len(data))
	}
	out := make([]byte, len(data)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, data[:aes.BlockSize]).CryptBlocks(out, data[aes.BlockSize:])
	pad := int(out[len(out)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, newError(ErrPadding, "CBC padding length %d", pad)
	}
	return out[:len(out)-pad], nil
}

// Open authenticates IV ‖ ciphertext ‖ tag in src[0:size] (a spooled MIME
// part, a file) and returns a reader of the plaintext. No plaintext exists
// before the data is known to be authentic: up to 1 MiB the data is read
// once into memory and opened with cipher.AEAD (which checks the tag
// first); larger data is read twice, first to check the tag, then to
// decrypt, and src must not change meanwhile (the second pass re-checks
// and fails at its end if it did). GCM only.
func Open(m Method, key []byte, src io.ReaderAt, size int64) (io.Reader, error) {
	a, err := m.check(true, DecryptOptions{})
	if err != nil {
		return nil, err
	}
	if err := checkKey(a, m, key); err != nil {
		return nil, err
	}
	if size >= int64(m.IVLength)+gcmTagSize && size <= openOneShotMax {
		data := make([]byte, size)
		if n, err := src.ReadAt(data, 0); n < len(data) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("xmlenc: reading ciphertext: %w", err)
		}
		plain, err := openInPlace(m, key, data)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(plain), nil
	}
	return openGCM(key, m.IVLength, src, size)
}

// openInPlace opens IV ‖ ciphertext ‖ tag held whole in data with
// cipher.AEAD, which checks the tag before it writes any plaintext; the
// plaintext overwrites the ciphertext. m has been checked.
func openInPlace(m Method, key, data []byte) ([]byte, error) {
	if len(data) < m.IVLength+gcmTagSize {
		return nil, newError(ErrTruncated, "%d bytes, shorter than IV (%d) and tag (%d)", len(data), m.IVLength, gcmTagSize)
	}
	aead, err := newAEAD(key, m.IVLength)
	if err != nil {
		return nil, err
	}
	iv, ct := data[:m.IVLength], data[m.IVLength:]
	plain, err := aead.Open(ct[:0], iv, ct, nil)
	if err != nil {
		return nil, newError(ErrAuthentication, "GCM tag mismatch (wrong key, wrong IV length, or modified data)")
	}
	return plain, nil
}

// OpenStream is Open for a stream that can be read only once (an
// unspooled MIME part): the ciphertext is first copied into a wire.Spool
// (memory up to 1 MiB, then an encrypted temporary file in spoolDir, "" for
// the system default) while nothing is decrypted. Close the returned reader
// to release the spool (or buffer); it reads nothing after Close.
//
// A ciphertext of at most 1 MiB (most messages) is read into one buffer
// instead and opened there in place, as Open would after copying it out of
// the spool again. If src has a DeclaredLength method (a wire.Part), a
// positive result sizes that buffer; it is a hint only.
func OpenStream(m Method, key []byte, src io.Reader, spoolDir string) (io.ReadCloser, error) {
	a, err := m.check(true, DecryptOptions{})
	if err != nil {
		return nil, err
	}
	if err := checkKey(a, m, key); err != nil {
		return nil, err
	}
	var hint int64
	if d, ok := src.(interface{ DeclaredLength() int64 }); ok {
		hint = d.DeclaredLength()
	}
	head, pooled, whole, err := readUpTo(src, hint, openOneShotMax)
	if err != nil {
		return nil, err
	}
	if whole {
		plain, err := openInPlace(m, key, head)
		if err != nil {
			releaseHead(head, pooled)
			return nil, err
		}
		return &memoryPlaintext{Reader: bytes.NewReader(plain), size: int64(len(head)), head: head, pooled: pooled}, nil
	}
	spool := wire.NewSpool(spoolDir, 0)
	_, err = spool.Write(head)
	releaseHead(head, pooled)
	if err != nil {
		spool.Close()
		return nil, err
	}
	if _, err := io.Copy(spool, src); err != nil {
		spool.Close()
		return nil, err
	}
	r, err := Open(m, key, spool, spool.Size())
	if err != nil {
		spool.Close()
		return nil, err
	}
	return &spooledReader{Reader: r, spool: spool}, nil
}

// readUpTo reads src until it ends or more than limit bytes have come.
// whole reports that src ended within the limit (head is then all of it).
// hint, if positive, is the expected length. A head that fits one GCM
// chunk (most messages) is read into a pooled chunk buffer, returned as
// pooled; give it back with releaseHead.
func readUpTo(src io.Reader, hint, limit int64) (head []byte, pooled *[]byte, whole bool, err error) {
	if hint < gcmChunk {
		pooled = chunkBuffers.Get().(*[]byte)
		head = (*pooled)[:0:gcmChunk]
	} else {
		head = make([]byte, 0, min(hint, limit)+1) // room to see the end without growing
	}
	for {
		if len(head) == cap(head) {
			if int64(len(head)) > limit {
				return head, pooled, false, nil
			}
			grown := append(head, 0)[:len(head)]
			releaseHead(head, pooled)
			head, pooled = grown, nil
		}
		n, err := src.Read(head[len(head):cap(head)])
		head = head[:len(head)+n]
		switch {
		case err == io.EOF:
			return head, pooled, int64(len(head)) <= limit, nil
		case err != nil:
			releaseHead(head, pooled)
			return nil, nil, false, err
		}
	}
}

// releaseHead wipes a pooled head (it held ciphertext or plaintext) and
// gives it back.
func releaseHead(head []byte, pooled *[]byte) {
	if pooled != nil {
		clear(head)
		chunkBuffers.Put(pooled)
	}
}

// memoryPlaintext is OpenStream's result for a ciphertext opened in memory
// (the plaintext overwrote it in head).
type memoryPlaintext struct {
	*bytes.Reader
	size   int64
	head   []byte
	pooled *[]byte
}

// Close gives a pooled buffer back; the reader is empty afterwards.
func (p *memoryPlaintext) Close() error {
	p.Reader.Reset(nil)
	releaseHead(p.head, p.pooled)
	p.head, p.pooled = nil, nil
	return nil
}

// Size is an upper bound of the plaintext size (the ciphertext's), a hint
// for readers that size buffers.
func (p *memoryPlaintext) Size() int64 { return p.size }

type spooledReader struct {
	io.Reader
	spool *wire.Spool
}

func (s *spooledReader) Close() error { return s.spool.Close() }

// Size is an upper bound of the plaintext size (the ciphertext's), a hint
// for readers that size buffers.
func (s *spooledReader) Size() int64 { return s.spool.Size() }
