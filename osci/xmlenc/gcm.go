package xmlenc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Streaming AES-GCM (NIST SP 800-38D) for payloads too large for memory.
//
// Go's cipher.AEAD needs the whole message at once. GCM is CTR encryption
// plus GHASH, a polynomial hash over the ciphertext, so both can run over a
// stream. GHASH is not exposed by the standard library, but it can be had at
// full (assembly) speed through the AEAD itself: sealing an empty plaintext
// with a chunk C as additional data under a fixed nonce N0 yields
//
//	tag = E_K(J0(N0)) ⊕ GHASH_H(C ‖ len(C))
//
// so S = tag ⊕ E_K(J0(N0)) ⊕ len-block·H = Σ C_i·H^(k+2-i) for the k
// blocks of the chunk. Chunks combine by Horner's rule with H^k, and the
// message tag is E_K(J0) ⊕ Acc ⊕ len-block·H. Only a handful of GF(2^128)
// multiplications per 64 KiB chunk are done in Go; the bulk work stays in
// the standard library. The nonce-N0 "tags" never leave this file; they are
// intermediate values of a hash over public ciphertext.
//
// CTR keystream: GCM increments only the low 32 bits of the counter block.
// cipher.NewCTR increments all 128 bits, which differs once the low word
// wraps. With a 12-byte IV the low word starts at 2 and a GCM message ends
// before it could wrap; with a 16-byte IV (J0 = GHASH(IV)) it can start
// anywhere, so the keystream is restarted at every wrap.
//
// Verified against cipher.NewGCM and cipher.NewGCMWithNonceSize(block, 16)
// for all key sizes and many lengths (gcm_test.go).

const (
	gcmTagSize   = 16
	gcmBlockSize = 16
	// gcmChunk is the unit of streaming work; a multiple of the block size.
	gcmChunk = 64 << 10
	// maxGCMPlaintext is the GCM limit of 2^39-256 bits.
	maxGCMPlaintext = 1<<36 - 32
)

// gfElement is an element of GF(2^128) in GCM's bit order: hi holds bytes
// 0–7, lo bytes 8–15, big-endian.
type gfElement struct{ hi, lo uint64 }

func gfLoad(b []byte) gfElement {
	return gfElement{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])}
}

func (x gfElement) store(b []byte) {
	binary.BigEndian.PutUint64(b[:8], x.hi)
	binary.BigEndian.PutUint64(b[8:16], x.lo)
}

func (x gfElement) xor(y gfElement) gfElement { return gfElement{x.hi ^ y.hi, x.lo ^ y.lo} }

// gfMul is SP 800-38D Algorithm 1. Constant-time: no data-dependent
// branches (masks instead).
func gfMul(x, y gfElement) gfElement {
	var z gfElement
	v := y
	for i := 0; i < 128; i++ {
		var bit uint64
		if i < 64 {
			bit = (x.hi >> (63 - i)) & 1
		} else {
			bit = (x.lo >> (127 - i)) & 1
		}
		mask := -bit
		z.hi ^= v.hi & mask
		z.lo ^= v.lo & mask
		lsb := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi = v.hi>>1 ^ (0xe100000000000000 & -lsb)
	}
	return z
}

// gfPow returns x^n (n ≥ 1).
func gfPow(x gfElement, n uint64) gfElement {
	result := gfElement{hi: 1 << 63} // the field's one
	for n > 0 {
		if n&1 == 1 {
			result = gfMul(result, x)
		}
		x = gfMul(x, x)
		n >>= 1
	}
	return result
}

func lengthBlock(aadBytes, ctBytes uint64) gfElement {
	return gfElement{aadBytes * 8, ctBytes * 8}
}

// gcmCore holds what encryption and decryption share.
type gcmCore struct {
	block   cipher.Block
	engine  cipher.AEAD // GHASH engine (nonce N0 = 0^96), see above
	h       gfElement   // H = E_K(0^128)
	hChunk  gfElement   // H^(gcmChunk/16)
	ekN0    [16]byte    // E_K(J0(N0))
	ekJ0    [16]byte    // E_K(J0) for the message IV
	counter [16]byte    // first counter block inc32(J0)
	acc     gfElement
	total   uint64
	scratch [gcmTagSize]byte
}

var zeroNonce [12]byte

func newGCMCore(key, iv []byte) (*gcmCore, error) {
	if len(iv) != 12 && len(iv) != 16 {
		return nil, newError(ErrIVLength, "GCM IV of %d bytes (12 or 16 supported)", len(iv))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, newError(ErrKeySize, "%v", err)
	}
	engine, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	c := &gcmCore{block: block, engine: engine}
	var hb [16]byte
	block.Encrypt(hb[:], hb[:])
	c.h = gfLoad(hb[:])
	c.hChunk = gfPow(c.h, gcmChunk/gcmBlockSize)
	var j0 [16]byte
	j0[15] = 1
	block.Encrypt(c.ekN0[:], j0[:])

	if len(iv) == 12 {
		copy(j0[:], iv)
		j0[12], j0[13], j0[14], j0[15] = 0, 0, 0, 1
	} else {
		// J0 = GHASH_H(IV ‖ 0^64 ‖ [len(IV)·8]_64)
		y := gfMul(gfLoad(iv), c.h)
		y = gfMul(y.xor(lengthBlock(0, uint64(len(iv)))), c.h)
		y.store(j0[:])
	}
	block.Encrypt(c.ekJ0[:], j0[:])
	c.counter = j0
	binary.BigEndian.PutUint32(c.counter[12:], binary.BigEndian.Uint32(j0[12:])+1)
	return c, nil
}

// absorb adds ciphertext to the GHASH accumulator. Every call but the last
// must pass a multiple of 16 bytes.
func (c *gcmCore) absorb(ct []byte) {
	for len(ct) > 0 {
		n := min(len(ct), gcmChunk)
		chunk := ct[:n]
		tag := c.engine.Seal(c.scratch[:0], zeroNonce[:], nil, chunk)
		subtle.XORBytes(tag, tag, c.ekN0[:])
		blocks := uint64((n + gcmBlockSize - 1) / gcmBlockSize)
		s := gfLoad(tag).xor(gfMul(lengthBlock(uint64(n), 0), c.h))
		hk := c.hChunk
		if blocks != gcmChunk/gcmBlockSize {
			hk = gfPow(c.h, blocks)
		}
		c.acc = gfMul(c.acc, hk).xor(s)
		c.total += uint64(n)
		ct = ct[n:]
	}
}

// tag returns the GCM tag for the ciphertext absorbed so far (no AAD).
func (c *gcmCore) tag() [gcmTagSize]byte {
	x := c.acc.xor(gfMul(lengthBlock(0, c.total), c.h))
	var t [gcmTagSize]byte
	x.store(t[:])
	subtle.XORBytes(t[:], t[:], c.ekJ0[:])
	return t
}

// ctrStream is GCM's CTR mode: the low 32 bits of the counter block wrap
// without carrying into the IV part.
type ctrStream struct {
	block    cipher.Block
	ctr      [16]byte
	stream   cipher.Stream
	untilWrp uint64 // bytes left before the low word wraps
}

func newCTR(block cipher.Block, first [16]byte) *ctrStream {
	s := &ctrStream{block: block, ctr: first}
	s.reset()
	return s
}

func (s *ctrStream) reset() {
	low := binary.BigEndian.Uint32(s.ctr[12:])
	s.untilWrp = (1<<32 - uint64(low)) * gcmBlockSize
	s.stream = cipher.NewCTR(s.block, s.ctr[:])
}

func (s *ctrStream) xor(dst, src []byte) {
	for len(src) > 0 {
		n := uint64(len(src))
		if n > s.untilWrp {
			n = s.untilWrp
		}
		s.stream.XORKeyStream(dst[:n], src[:n])
		dst, src = dst[n:], src[n:]
		s.untilWrp -= n
		if s.untilWrp == 0 {
			binary.BigEndian.PutUint32(s.ctr[12:], 0)
			s.reset()
		}
	}
}

// sealReader produces IV ‖ ciphertext ‖ tag from a plaintext stream.
type sealReader struct {
	src  io.Reader
	core *gcmCore
	ctr  *ctrStream
	out  []byte // pending output
	buf  []byte
	eof  bool
	done bool
	iv   []byte
	sent bool

	pooled *[]byte // buf's pool entry, returned once the last chunk is out
}

func newSealReader(key, iv []byte, src io.Reader) (*sealReader, error) {
	core, err := newGCMCore(key, iv)
	if err != nil {
		return nil, err
	}
	buf := chunkBuffers.Get().(*[]byte)
	return &sealReader{src: src, core: core, ctr: newCTR(core.block, core.counter), buf: (*buf)[:gcmChunk], pooled: buf, iv: append([]byte(nil), iv...)}, nil
}

// chunkBuffers recycle the 64 KiB chunk buffers of sealing and
// authenticating: every delivery seals and opens several (mostly small)
// messages, and a fresh buffer each time was a large part of the garbage.
var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, gcmChunk); return &b }}

func (r *sealReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if !r.sent {
			r.out, r.sent = r.iv, true
			break
		}
		if r.eof {
			t := r.core.tag()
			r.out, r.done = t[:], true
			if r.pooled != nil { // nothing refers to buf any more
				chunkBuffers.Put(r.pooled)
				r.buf, r.pooled = nil, nil
			}
			break
		}
		n, err := io.ReadFull(r.src, r.buf)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			r.eof = true
		} else if err != nil {
			return 0, err
		}
		if r.core.total+uint64(n) > maxGCMPlaintext {
			return 0, newError(ErrMalformed, "plaintext exceeds the GCM limit of %d bytes", uint64(maxGCMPlaintext))
		}
		chunk := r.buf[:n]
		r.ctr.xor(chunk, chunk)
		r.core.absorb(chunk)
		r.out = chunk
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// gcmAuthenticate reads the ciphertext section of src (after the IV, before
// the tag) once, computing the tag, and compares it with the stored one.
func gcmAuthenticate(core *gcmCore, src io.ReaderAt, ctOff, ctLen int64) error {
	pooled := chunkBuffers.Get().(*[]byte)
	defer chunkBuffers.Put(pooled)
	buf := (*pooled)[:gcmChunk]
	for off := int64(0); off < ctLen; {
		n := min(int64(len(buf)), ctLen-off)
		if _, err := src.ReadAt(buf[:n], ctOff+off); err != nil {
			return fmt.Errorf("xmlenc: reading ciphertext: %w", err)
		}
		core.absorb(buf[:n])
		off += n
	}
	var stored [gcmTagSize]byte
	if _, err := src.ReadAt(stored[:], ctOff+ctLen); err != nil {
		return fmt.Errorf("xmlenc: reading tag: %w", err)
	}
	want := core.tag()
	if subtle.ConstantTimeCompare(want[:], stored[:]) != 1 {
		return newError(ErrAuthentication, "GCM tag mismatch (wrong key, wrong IV length, or modified data)")
	}
	return nil
}

// openReader decrypts an authenticated ciphertext section. It hashes the
// ciphertext again while decrypting and fails at the end if the source
// changed since authentication (it should be immutable; this is a second
// line of defence, not a licence to pass mutable sources).
type openReader struct {
	src          io.ReaderAt
	ctOff, ctLen int64
	pos          int64
	core         *gcmCore
	ctr          *ctrStream
	want         [gcmTagSize]byte
	buf          []byte
	out          []byte
	err          error
}

func (r *openReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.pos >= r.ctLen {
			if got := r.core.tag(); subtle.ConstantTimeCompare(got[:], r.want[:]) != 1 {
				r.err = newError(ErrAuthentication, "ciphertext changed between authentication and decryption")
			} else {
				r.err = io.EOF
			}
			return 0, r.err
		}
		n := min(int64(len(r.buf)), r.ctLen-r.pos)
		chunk := r.buf[:n]
		if _, err := r.src.ReadAt(chunk, r.ctOff+r.pos); err != nil {
			r.err = fmt.Errorf("xmlenc: reading ciphertext: %w", err)
			return 0, r.err
		}
		r.core.absorb(chunk)
		r.ctr.xor(chunk, chunk)
		r.pos += n
		r.out = chunk
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// openGCM authenticates IV ‖ C ‖ tag in src[0:size] and returns a reader of
// the plaintext. Nothing is decrypted before the tag has been checked.
func openGCM(key []byte, ivLen int, src io.ReaderAt, size int64) (io.Reader, error) {
	if size < int64(ivLen)+gcmTagSize {
		return nil, newError(ErrTruncated, "%d bytes, shorter than IV (%d) and tag (%d)", size, ivLen, gcmTagSize)
	}
	iv := make([]byte, ivLen)
	if _, err := src.ReadAt(iv, 0); err != nil {
		return nil, fmt.Errorf("xmlenc: reading IV: %w", err)
	}
	ctLen := size - int64(ivLen) - gcmTagSize
	if ctLen > maxGCMPlaintext {
		return nil, newError(ErrMalformed, "ciphertext exceeds the GCM limit")
	}
	core, err := newGCMCore(key, iv)
	if err != nil {
		return nil, err
	}
	if err := gcmAuthenticate(core, src, int64(ivLen), ctLen); err != nil {
		return nil, err
	}
	second, _ := newGCMCore(key, iv)
	// Most ciphertexts are far smaller than a chunk.
	r := &openReader{src: src, ctOff: int64(ivLen), ctLen: ctLen, core: second, ctr: newCTR(second.block, second.counter), buf: make([]byte, min(gcmChunk, ctLen))}
	r.want = core.tag()
	return r, nil
}

func randomIV(n int) ([]byte, error) {
	iv := make([]byte, n)
	if _, err := rand.Read(iv); err != nil {
		return nil, errors.New("xmlenc: no randomness for the IV: " + err.Error())
	}
	return iv, nil
}
