package vendorsim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/testvectors"
	"github.com/xagw/xagw/testvectors/report"
	"github.com/xagw/xagw/testvectors/vendorsim"
)

// Run the kit against a simulated, well-behaved case system through the
// kit's own test intermediary on a loopback port: a valid application is
// answered with a Statusmeldung, an invalid one with a Rückweisung.
func Example() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	signer, cipher, policy, err := vendorsim.Kit("..")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := testvectors.Run(context.Background(), testvectors.RunOptions{
		Dir: "..", Bundle: bundle, VendorCipher: cipher.Certificate,
		Only: []string{"xa.valid.130101.antrag-familiennachzug", "xa.invalid.codelist.unknown-code"},
		Poll: 200 * time.Millisecond, Settle: time.Second,
		StartVendor: func(ctx context.Context, t testvectors.Target) error {
			return vendorsim.Run(ctx, vendorsim.Config{Target: t, Signer: signer, Cipher: cipher, Policy: policy,
				Bundle: bundle, Behaviour: vendorsim.WellBehaved})
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, res := range r.Results {
		if res.Status != report.StatusSkip {
			fmt.Println(res.Status, res.ID, res.Got)
		}
	}
	fmt.Println("conforms:", r.OK())
	// Output:
	// pass xa.invalid.codelist.unknown-code reply 0010
	// pass xa.valid.130101.antrag-familiennachzug reply 130104
	// conforms: true
}
