package wire

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func TestSpool(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name     string
		memLimit int64
		size     int
	}{{"memory", 1 << 20, 1000}, {"file", 100, 300000}, {"exact limit", 4096, 4096}, {"empty", 10, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]byte, tc.size)
			for i := range want {
				want[i] = byte(rng.IntN(256))
			}
			s := NewSpool(t.TempDir(), tc.memLimit)
			defer s.Close()
			// Write in uneven pieces, crossing the memory limit mid-write.
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(7000))
				if _, err := s.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if s.Size() != int64(tc.size) {
				t.Fatalf("size %d", s.Size())
			}
			got, err := io.ReadAll(s.Reader())
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("content differs (err %v)", err)
			}
			// Random access at unaligned offsets.
			for i := 0; i < 50 && tc.size > 0; i++ {
				off := rng.IntN(tc.size)
				buf := make([]byte, rng.IntN(tc.size-off)+1)
				n, err := s.ReadAt(buf, int64(off))
				if n != len(buf) || (err != nil && err != io.EOF) || !bytes.Equal(buf, want[off:off+n]) {
					t.Fatalf("ReadAt(%d, %d): n=%d err=%v", off, len(buf), n, err)
				}
			}
			if _, err := s.ReadAt(make([]byte, 1), int64(tc.size)); err != io.EOF {
				t.Errorf("read at end: %v", err)
			}
			if s.f != nil {
				// The file holds ciphertext only.
				raw := make([]byte, tc.size)
				if _, err := s.f.ReadAt(raw, 0); err != nil {
					t.Fatal(err)
				}
				if bytes.Equal(raw, want) || bytes.Contains(raw, want[:64]) {
					t.Error("spool file contains the plaintext")
				}
			} else if tc.size > int(tc.memLimit) {
				t.Error("content above the memory limit stayed in memory")
			}
		})
	}
}

func TestSpoolClosed(t *testing.T) {
	s := NewSpool("", 0)
	s.Write([]byte("abc"))
	s.Close()
	if _, err := s.Write([]byte("x")); err == nil {
		t.Error("write after Close accepted")
	}
	if _, err := s.ReadAt(make([]byte, 1), 0); err == nil {
		t.Error("read after Close accepted")
	}
}
