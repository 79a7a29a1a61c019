package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// DefaultSpoolMemory is how many bytes a Spool keeps in memory before it
// moves to a temporary file.
const DefaultSpoolMemory = 1 << 20

// Spool holds a stream (typically a part body) so it can be read more than
// once, e.g. digested for a signature and then decrypted, without keeping a
// large attachment in memory: up to a memory limit the bytes stay in memory,
// beyond it they go to an unlinked temporary file. The file content is
// encrypted with AES-CTR under a random key that exists only in this
// process, so attachments (personal data) never rest on disk in the clear
// and the file is useless once the process is gone.
//
// Write all bytes first, then read with ReadAt or Reader. A Spool is not
// safe for concurrent writes; concurrent ReadAt calls are fine. Close
// releases the file.
type Spool struct {
	dir      string
	memLimit int64
	mem      []byte
	f        *os.File
	size     int64
	block    cipher.Block
	iv       [aes.BlockSize]byte
	scratch  []byte
	wstream  cipher.Stream // keystream positioned at size, for appends
	closed   bool
}

// NewSpool returns an empty Spool that keeps up to memLimit bytes in memory
// (DefaultSpoolMemory if memLimit <= 0) and puts larger content into a
// temporary file in dir ("" means os.TempDir()).
func NewSpool(dir string, memLimit int64) *Spool {
	if memLimit <= 0 {
		memLimit = DefaultSpoolMemory
	}
	return &Spool{dir: dir, memLimit: memLimit}
}

var errSpoolClosed = errors.New("wire: spool is closed")

// Write appends p.
func (s *Spool) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errSpoolClosed
	}
	if s.f == nil && s.size+int64(len(p)) <= s.memLimit {
		s.mem = append(s.mem, p...)
		s.size += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		if err := s.toFile(); err != nil {
			return 0, err
		}
	}
	if err := s.writeEncrypted(p, s.size); err != nil {
		return 0, err
	}
	s.size += int64(len(p))
	return len(p), nil
}

func (s *Spool) toFile() error {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	if _, err := rand.Read(s.iv[:8]); err != nil { // low 8 bytes count blocks
		return err
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, "xagw-spool-*")
	if err != nil {
		return fmt.Errorf("wire: spool file: %w", err)
	}
	// Unlink at once: the open descriptor keeps the data reachable for us
	// only, and nothing is left behind if the process dies.
	_ = os.Remove(f.Name())
	s.f, s.block = f, block
	if len(s.mem) > 0 {
		if err := s.writeEncrypted(s.mem, 0); err != nil {
			return err
		}
		clear(s.mem)
		s.mem = nil
	}
	return nil
}

// stream returns a CTR keystream positioned at byte offset off.
func (s *Spool) stream(off int64) cipher.Stream {
	var ctr [aes.BlockSize]byte
	copy(ctr[:], s.iv[:])
	binary.BigEndian.PutUint64(ctr[8:], uint64(off/aes.BlockSize))
	st := cipher.NewCTR(s.block, ctr[:])
	if skip := int(off % aes.BlockSize); skip > 0 {
		var junk [aes.BlockSize]byte
		st.XORKeyStream(junk[:skip], junk[:skip])
	}
	return st
}

func (s *Spool) writeEncrypted(p []byte, off int64) error {
	// Writes only append, so one keystream serves them all.
	if s.wstream == nil {
		s.wstream = s.stream(off)
	}
	st := s.wstream
	for len(p) > 0 {
		n := min(len(p), 64<<10)
		if cap(s.scratch) < n {
			s.scratch = make([]byte, 64<<10)
		}
		buf := s.scratch[:n]
		st.XORKeyStream(buf, p[:n])
		if _, err := s.f.WriteAt(buf, off); err != nil {
			return fmt.Errorf("wire: spool file: %w", err)
		}
		off += int64(n)
		p = p[n:]
	}
	return nil
}

// ReadFrom appends everything r yields (io.Copy uses it instead of
// allocating a buffer of its own).
func (s *Spool) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	var n int64
	for {
		k, err := r.Read(*buf)
		if k > 0 {
			if _, werr := s.Write((*buf)[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Size returns the number of bytes written.
func (s *Spool) Size() int64 { return s.size }

// ReadAt implements io.ReaderAt over the bytes written so far.
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	if s.closed {
		return 0, errSpoolClosed
	}
	if off < 0 {
		return 0, errors.New("wire: spool: negative offset")
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := s.size - off; int64(want) > rest {
		p = p[:rest]
	}
	if s.f == nil {
		n := copy(p, s.mem[off:])
		if n < want {
			return n, io.EOF
		}
		return n, nil
	}
	n, err := s.f.ReadAt(p, off)
	s.stream(off).XORKeyStream(p[:n], p[:n])
	if err == nil && n < want {
		err = io.EOF
	}
	return n, err
}

// Reader returns a reader over the whole content, independent of other
// readers.
func (s *Spool) Reader() *io.SectionReader { return io.NewSectionReader(s, 0, s.size) }

// Close drops the content and releases the temporary file.
func (s *Spool) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	clear(s.mem)
	s.mem = nil
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}
