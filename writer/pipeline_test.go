package writer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
)

// TestGroupCommitPipelined: many goroutines on one writer (whose commits
// are pipelined: each batch is applied while the previous one is written)
// and a second writer on the same branch (whose commits invalidate the
// batches applied ahead) increment one counter through :db/cas and add
// entities, some invalid. Every acknowledged transaction is in the
// database exactly once, every failed one is absent, and the counter
// equals the acknowledged increments.
func TestGroupCommitPipelined(t *testing.T) {
	ctx := context.Background()
	url := "mem://pipeline-" + strconv.FormatInt(rand.Int64(), 36)
	w1, err := Create(ctx, url, &Options{Width: 8, TailBytes: 3000})
	if err != nil {
		t.Fatal(err)
	}
	defer w1.Close()
	mustTx(t, w1, crashSchema)
	mustTx(t, w1, `[{:c/name "counter" :c/n 0}]`)
	w2, err := OpenStore(ctx, w1.Store(), &Options{Width: 8, TailBytes: 3000})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	incr := func(w *Writer) error {
		for range 500 {
			// Read the counter from the head: a writer whose
			// transactions all fail commits nothing and never rebases,
			// so its own value can stay behind the other writer's.
			db, err := reader.OpenStore(ctx, w.Store(), nil)
			if err != nil {
				return err
			}
			nameID, _ := db.Schema().Entid("c/name")
			nID, _ := db.Schema().Entid("c/n")
			var e datom.ID
			if err := db.Datoms(ctx, datom.AVET, []any{nameID, "counter"}, func(d datom.Datom) bool { e = d.E; return false }); err != nil {
				return err
			}
			var cur int64
			if err := db.Datoms(ctx, datom.EAVT, []any{e, nID}, func(d datom.Datom) bool { cur = d.V.(int64); return false }); err != nil {
				return err
			}
			_, err = w.Transact(ctx, fmt.Sprintf(`[[:db/cas [:c/name "counter"] :c/n %d %d]]`, cur, cur+1))
			if err == nil {
				return nil
			}
			if !errors.Is(err, tx.ErrCAS) {
				return err
			}
		}
		return errors.New("increment: too many :db/cas failures")
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	incs := 0
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for g := range 12 {
		w := w1
		if g == 0 {
			w = w2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				switch i % 3 {
				case 0:
					if err := incr(w); err != nil {
						errc <- err
						return
					}
					mu.Lock()
					incs++
					mu.Unlock()
				case 1:
					name := fmt.Sprintf("g%d-%d", g, i)
					if _, err := w.Transact(ctx, fmt.Sprintf(`[{:c/name %q :c/n %d :c/tag [:a :b]}]`, name, i)); err != nil {
						errc <- err
						return
					}
					mu.Lock()
					acked[name] = true
					mu.Unlock()
				case 2:
					name := fmt.Sprintf("bad%d-%d", g, i)
					if _, err := w.Transact(ctx, fmt.Sprintf(`[{:c/name %q :c/n "not a number"}]`, name)); err == nil {
						errc <- fmt.Errorf("invalid transaction %s acknowledged", name)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	db, err := reader.OpenStore(ctx, w1.Store(), nil)
	if err != nil {
		t.Fatal(err)
	}
	nameID, _ := db.Schema().Entid("c/name")
	nID, _ := db.Schema().Entid("c/n")
	names := map[string]int{}
	var counter int64 = -1
	var counterE datom.ID
	if err := db.Datoms(ctx, datom.AEVT, []any{nameID}, func(d datom.Datom) bool {
		names[d.V.(string)]++
		if d.V == "counter" {
			counterE = d.E
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Datoms(ctx, datom.EAVT, []any{counterE, nID}, func(d datom.Datom) bool { counter = d.V.(int64); return false }); err != nil {
		t.Fatal(err)
	}
	for name := range acked {
		if names[name] != 1 {
			t.Errorf("acknowledged %s appears %d times", name, names[name])
		}
	}
	for name, n := range names {
		if name != "counter" && !acked[name] {
			t.Errorf("%s (%d times) was never acknowledged", name, n)
		}
	}
	if counter != int64(incs) {
		t.Fatalf("counter = %d, want %d acknowledged increments", counter, incs)
	}
	t.Logf("%d increments, %d entities, %d commits; merges %d started, %d adopted",
		incs, len(acked), db.Head().Commit.Seq, w1.mergesStarted.Load(), w1.mergesAdopted.Load())
}
