package ops_test

import (
	"context"
	"fmt"
	"time"

	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/ops"
	"github.com/accretedb/accrete/writer"
)

// Copy a database to another bucket, collect garbage in it, and verify it.
func Example() {
	ctx := context.Background()
	w, err := writer.Create(ctx, "mem://ops-example-src", &writer.Options{Width: 4, TailBytes: 200})
	if err != nil {
		panic(err)
	}
	defer w.Close()
	for i := range 20 {
		if _, err := w.Transact(ctx, fmt.Sprintf(`[{:db/ident :x%d}]`, i)); err != nil {
			panic(err)
		}
	}
	src, dst := w.Store(), mustOpen(ctx, "mem://ops-example-dst")
	defer dst.Close()

	first, err := ops.Sync(ctx, src, dst, ops.SyncOptions{})
	if err != nil {
		panic(err)
	}
	second, err := ops.Sync(ctx, src, dst, ops.SyncOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("first sync: %d head moved, nodes sent: %v\n", first.Heads, first.Nodes > 0)
	fmt.Printf("second sync: %d heads moved, %d nodes sent\n", second.Heads, second.Nodes)

	// Pretend two hours passed, so that everything but the head is older
	// than the one-hour grace.
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	gc, err := ops.GC(ctx, dst, ops.GCOptions{Now: later})
	if err != nil {
		panic(err)
	}
	fmt.Printf("gc: bumped %d head, freed nodes: %v\n", gc.Bumped, gc.Swept > 0)

	vr, err := ops.Verify(ctx, dst, ops.VerifyOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("verify ok:", vr.OK())
	// Output:
	// first sync: 1 head moved, nodes sent: true
	// second sync: 0 heads moved, 0 nodes sent
	// gc: bumped 1 head, freed nodes: true
	// verify ok: true
}

func mustOpen(ctx context.Context, url string) *konserve.Store {
	st, err := konserve.Open(ctx, url, nil)
	if err != nil {
		panic(err)
	}
	return st
}
