package testvectors

import (
	"context"
	"errors"
)

// osciEnv holds the key material OSCI vectors are opened with.
type osciEnv struct{}

func newOSCIEnv(dir string, m *Manifest) (*osciEnv, error) { return &osciEnv{}, nil }

func (e *osciEnv) verify(ctx context.Context, env *verifyEnv, v *Vector) (string, string, error) {
	return "", "", errors.New("OSCI vectors are not verified yet (waiting for the osci protocol layer)")
}

// osciVectors builds the OSCI vectors (pending the osci protocol layer).
func osciVectors(ctx context.Context, k *kit, o GenerateOptions) error { return nil }

// OSCIExpect is the expected result of opening an OSCI vector.
type OSCIExpect struct {
	MessageID string `json:"messageId,omitempty"`
}
