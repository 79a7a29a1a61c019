package samples

import (
	"sync"
	"testing"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/xsd"
)

var (
	bundleOnce sync.Once
	bundle     *schemas.Bundle
	bundleErr  error
)

func testBundle(t testing.TB) *schemas.Bundle {
	t.Helper()
	bundleOnce.Do(func() { bundle, bundleErr = schemas.OpenDefault() })
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundle
}

func TestQuickAll(t *testing.T) {
	b := testBundle(t)
	v := xauslaender.NewValidator(b)
	for _, s := range List() {
		data, err := s.XML(b)
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		r := v.Validate(data)
		t.Logf("%s: %d bytes valid=%v checked=%d unchecked=%d", s.Name, len(data), r.Valid, r.CodesChecked, r.CodesUnchecked)
		for _, p := range r.Problems {
			t.Logf("   %s", p)
		}
		_ = xsd.Marshal
	}
}
