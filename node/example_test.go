package node_test

import (
	"fmt"

	"github.com/accretedb/accrete/node"
)

func ExampleEncode() {
	leaf := &node.Node[int64]{Keys: []int64{1, 2, 3, 300, -7}}
	data, err := node.Encode(leaf, node.Int64Codec{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes, address %s\n", len(data), node.AddressOf(data))

	back, err := node.Decode(data, node.Int64Codec{})
	fmt.Println(back.Keys, back.IsLeaf(), err)

	_, err = node.Decode(data, node.StringCodec{})
	fmt.Println(err)
	// Output:
	// 20 bytes, address 089e40e1859514e4ebc2bdc32c6021998a3ba765dae3a368e356d0b9871808fb
	// [1 2 3 300 -7] true <nil>
	// node: decode: node: key codec mismatch: node written with "int64/asc", reading with "string/lex"
}
