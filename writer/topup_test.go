package writer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

// TestGroupCommitWithImports: goroutines that submit again as soon as
// their transaction is done (the groups a commit tops up with the
// requesters it released) while another goroutine imports batches (which
// commit alone, wherever they are met in the queue). Every transaction
// and every import is in the database exactly once, each report's T is
// distinct, and each import's entities are there as imported.
func TestGroupCommitWithImports(t *testing.T) {
	ctx := context.Background()
	url := "file://" + t.TempDir()
	w, at := importSetup(t, url)
	const workers, perWorker, imports = 12, 25, 6
	var mu sync.Mutex
	ts := map[int64]string{}
	record := func(t int64, what string) error {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := ts[t]; ok {
			return fmt.Errorf("t %d reported for %s and %s", t, prev, what)
		}
		ts[t] = what
		return nil
	}
	type imported struct {
		ds  []datom.Datom
		rep *ImportReport
	}
	var imps []imported
	var wg sync.WaitGroup
	errc := make(chan error, workers+1)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				key := fmt.Sprintf("w%d-%d", g, i)
				rep, err := w.Transact(ctx, []any{edn.Map{{Key: edn.Keyword("i/key"), Val: key}, {Key: edn.Keyword("i/n"), Val: int64(i)}}})
				if err == nil {
					err = record(rep.T, key)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for k := range imports {
			ds := importBatch(r, at, fmt.Sprintf("imp%d-", k), 30, 0)
			rep, err := w.Import(ctx, ds)
			if err == nil {
				err = record(rep.T, fmt.Sprint("import ", k))
			}
			if err != nil {
				errc <- err
				return
			}
			mu.Lock()
			imps = append(imps, imported{ds, rep})
			mu.Unlock()
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	db, err := reader.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	if err := db.Datoms(ctx, datom.AEVT, []any{at.key}, func(d datom.Datom) bool {
		keys[d.V.(string)]++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for g := range workers {
		for i := range perWorker {
			if k := fmt.Sprintf("w%d-%d", g, i); keys[k] != 1 {
				t.Errorf("%s appears %d times, want 1", k, keys[k])
			}
		}
	}
	if want := workers*perWorker + imports*30; len(keys) != want {
		t.Errorf("%d keys, want %d", len(keys), want)
	}
	for _, im := range imps {
		expectEntities(t, db, im.ds, im.rep.TempIDs, at, im.rep.TxID)
	}
	t.Logf("%d commits for %d transactions and %d imports", db.Head().Commit.Seq, workers*perWorker, imports)
}
