package atrest_test

import (
	"bytes"
	"fmt"

	"github.com/xagw/xagw/gateway/atrest"
)

// Seal a body bound to its row and part, and open it again.
func Example() {
	key := bytes.Repeat([]byte{7}, atrest.KeySize) // in production: atrest.LoadKeyFile
	kr, err := atrest.New(key)
	if err != nil {
		panic(err)
	}
	keyID, sealed, _ := kr.Seal([]byte("<antrag/>"), []byte("msg-1/body"))
	plain, err := kr.Open(keyID, sealed, []byte("msg-1/body"))
	fmt.Println(string(plain), err, keyID == atrest.KeyID(key))
	_, err = kr.Open(keyID, sealed, []byte("msg-2/body"))
	fmt.Println(err)
	// Output:
	// <antrag/> <nil> true
	// atrest: authentication failed
}
