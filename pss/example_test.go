package pss_test

import (
	"cmp"
	"context"
	"fmt"

	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/pss"
)

// A set is built, changed, flushed to a store and reopened from its root
// address alone; the old version is unaffected by the change.
func Example() {
	ctx := context.Background()
	store := pss.NewMemStore[int64](node.Int64Codec{})
	opts := pss.Options[int64]{Compare: cmp.Compare[int64], Width: 4, Codec: node.Int64Codec{}, Store: store}

	v1, err := pss.Build(ctx, []int64{10, 20, 30, 40, 50, 60}, opts)
	if err != nil {
		panic(err)
	}
	v2, err := v1.Update(ctx, []int64{35, 70}, []int64{10})
	if err != nil {
		panic(err)
	}
	root, _, err := v2.Flush(ctx)
	if err != nil {
		panic(err)
	}
	reopened, err := pss.Open(ctx, root, opts)
	if err != nil {
		panic(err)
	}

	lo, hi := int64(30), int64(60)
	keys, err := reopened.Slice(ctx, &lo, &hi)
	fmt.Println(keys, err)
	n, _ := reopened.Count(ctx, 0, 100)
	fmt.Println("count", n, "v1 still has", v1.Len())

	it := reopened.NewIter(ctx, nil)
	for ok := it.Last(); ok; ok = it.Prev() {
		fmt.Print(it.Key(), " ")
	}
	fmt.Println(it.Close())
	// Output:
	// [30 35 40 50] <nil>
	// count 7 v1 still has 6
	// 70 60 50 40 35 30 20 <nil>
}
