package blobtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
)

// A writer test crashes a commit at every step: count the operations of a
// clean run, then for each n run the commit on a fresh Faulty that crashes
// at operation n, "restart" (Reset), and check that the head is either the
// old one or the new one with every node it names present.
func ExampleFaulty() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "blobtest-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	base, err := konserve.Open(ctx, "file://"+dir, nil)
	if err != nil {
		panic(err)
	}
	defer base.Close()
	const key = "branches/main/HEAD"
	v0, err := base.SwapHead(ctx, key, "", []byte("seq 0"))
	if err != nil {
		panic(err)
	}

	// commit writes two nodes, then swaps the head from v0 (every attempt
	// starts from the same old head: a crashed attempt leaves it in place).
	commit := func(s *konserve.Store, key string, old konserve.Version, seq int) error {
		if _, err := s.PutNodes(ctx, [][]byte{fmt.Appendf(nil, "leaf %d", seq), fmt.Appendf(nil, "root %d", seq)}); err != nil {
			return err
		}
		_, err := s.SwapHead(ctx, key, old, fmt.Appendf(nil, "seq %d", seq))
		return err
	}

	// A clean run on another branch counts the steps.
	dry := blobtest.NewFaulty(base.Backend())
	if err := commit(konserve.New(dry, nil), "branches/dry/HEAD", "", 100); err != nil {
		panic(err)
	}
	steps := dry.Count(blobtest.OpAny)
	fmt.Println("operations in a clean commit:", steps)

	for n := int64(1); n <= steps; n++ {
		f := blobtest.NewFaulty(base.Backend())
		f.CrashAt(blobtest.OpAny, n)
		err := commit(konserve.New(f, nil), key, v0, int(n))
		head, _, rerr := base.ReadHead(ctx, key)
		if rerr != nil {
			panic(rerr)
		}
		fmt.Printf("crash at op %d: crashed=%v unknown=%v head=%q\n", n, errors.Is(err, blobtest.ErrCrashed), errors.Is(err, konserve.ErrUnknownOutcome), head)
	}
	// Output:
	// operations in a clean commit: 3
	// crash at op 1: crashed=true unknown=false head="seq 0"
	// crash at op 2: crashed=true unknown=false head="seq 0"
	// crash at op 3: crashed=true unknown=true head="seq 0"
}
