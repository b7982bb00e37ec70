package ops

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// The values the bucket scan looks for: distinctive, so no other byte
// sequence matches by chance.
const (
	secretName = "SECRET-4c1f9e2ab7d0"
	secretNote = "SECRET-NOTE-77e1d3a9"
)

// bucketObjects reads every object of the bucket at url, whatever its key:
// nodes, commits, tails and heads. For a file bucket it walks the directory,
// so stray files count too.
func bucketObjects(t *testing.T, url, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if dir != "" {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			out[p] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	st := openStore(t, url)
	ctx := context.Background()
	var keys []string
	if err := st.Backend().List(ctx, "", func(oi konserve.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		b, err := st.Backend().Get(ctx, k)
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		out[k] = b
	}
	return out
}

func objectsWith(objs map[string][]byte, s string) []string {
	var keys []string
	for k, b := range objs {
		if bytes.Contains(b, []byte(s)) {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestPurgeBucketScan: a value asserted, retracted and asserted again (so
// it sits in the log tail, the current and history trees and the log of
// many commits), and a :db/noHistory value overwritten (so only the log
// holds it), are purged; after GC no object of the bucket holds their
// bytes. Before GC some object still does, so the scan can fail.
func TestPurgeBucketScan(t *testing.T) {
	for _, kind := range []string{"mem", "file"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			var url, dir string
			if kind == "file" {
				dir = t.TempDir()
				url = "file://" + dir
			} else {
				url = scratchURL(t)
			}
			w, err := writer.Create(ctx, url, &writer.Options{Width: 4, TailBytes: 1500})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			tx := func(s string) {
				t.Helper()
				if _, err := w.Transact(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			filler := func(n int) {
				for i := range n {
					tx(fmt.Sprintf(`[{:u/email "f%d-%d@x" :u/name "filler %d"}]`, i, time.Now().UnixNano(), i))
				}
			}
			tx(purgeTestSchema)
			tx(`[{:u/email "ann@x" :u/name "Ann"}]`)
			tx(fmt.Sprintf(`[[:db/add [:u/email "ann@x"] :u/tag %q] [:db/add [:u/email "ann@x"] :u/note %q]]`, secretName, secretNote))
			filler(30)
			tx(fmt.Sprintf(`[[:db/retract [:u/email "ann@x"] :u/tag %q] [:db/add [:u/email "ann@x"] :u/note "plain"]]`, secretName))
			filler(30)
			tx(fmt.Sprintf(`[[:db/add [:u/email "ann@x"] :u/tag %q]]`, secretName))
			filler(2) // the last assertion stays in the log tail

			db := w.DB()
			if db.TailBytes() == 0 {
				t.Fatal("the log tail is empty: the test would not cover it")
			}
			// Closing waits for the writer's background merge, which
			// would otherwise write (pre-purge) nodes after GC listed the
			// bucket, nodes GC's stepped clock does not protect.
			w.Close()
			for _, s := range []string{secretName, secretNote} {
				if len(objectsWith(bucketObjects(t, url, dir), s)) == 0 {
					t.Fatalf("%s is in no object before the purge: the scan cannot see values", s)
				}
			}
			st := openStore(t, url)
			rep, err := Purge(ctx, st, fmt.Sprintf(`[[:db/purge [:u/email "ann@x"] :u/tag %q]
			                                         [:db.purge/attribute [:u/email "ann@x"] :u/note]]`, secretName),
				&PurgeOptions{By: "dpo@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			// assert, retract, assert again, and the note's assertions and
			// retraction.
			if rep.Datoms < 6 {
				t.Errorf("purged %d datoms, want at least 6: %+v", rep.Datoms, rep)
			}
			after, err := reader.OpenStore(ctx, openStore(t, url), nil)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := snapshot(ctx, after)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains([]byte(snap), []byte(secretName)) || bytes.Contains([]byte(snap), []byte(secretNote)) {
				t.Fatalf("a purged value is still readable:\n%s", snap)
			}
			// Without GC the old commits' nodes still hold the values.
			if len(objectsWith(bucketObjects(t, url, dir), secretName)) == 0 {
				t.Fatal("the value left the bucket without GC: the scan proves nothing")
			}
			gc, err := GC(ctx, st, GCOptions{Now: later})
			if err != nil {
				t.Fatal(err)
			}
			if gc.Swept == 0 {
				t.Fatalf("GC swept nothing: %+v", gc)
			}
			objs := bucketObjects(t, url, dir)
			for _, s := range []string{secretName, secretNote} {
				if keys := objectsWith(objs, s); len(keys) > 0 {
					t.Errorf("%s still in %d objects after purge and GC: %v", s, len(keys), keys)
				}
			}
			// The database still answers, and a writer commits past the
			// purge. (The old writer's value is older than the grace GC
			// was told has passed, so it is closed, as its process would
			// have been: a writer holds no value across the grace.)
			w.Close()
			w2, err := writer.Open(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w2.Close()
			if _, err := w2.Transact(ctx, `[{:u/email "bob@x" :u/name "Bob"}]`); err != nil {
				t.Fatal(err)
			}
			if got := snapshotURL(t, url); !bytes.Contains([]byte(got), []byte("Bob")) || bytes.Contains([]byte(got), []byte(secretName)) {
				t.Errorf("after a write following the purge: Bob missing or the secret back")
			}
		})
	}
}

// TestPurgeConcurrentWriter: writers commit while purges run on the same
// branch; every transaction a writer saw succeed is in the final value, and
// every purged fact is gone from it.
func TestPurgeConcurrentWriter(t *testing.T) {
	ctx := context.Background()
	url := scratchURL(t)
	w, err := writer.Create(ctx, url, &writer.Options{Width: 4, TailBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, purgeTestSchema); err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		if _, err := w.Transact(ctx, fmt.Sprintf(`[{:u/email "old%d@x" :u/name "old %d"}]`, i, i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var werr error
	committed := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if _, err := w.Transact(ctx, fmt.Sprintf(`[{:u/email "new%d@x" :u/name "new %d"}]`, i, i)); err != nil {
				werr = err
				return
			}
			committed++
		}
	}()
	st := openStore(t, url)
	purged, retries := 0, 0
	for i := 0; i < n; i += 3 {
		rep, err := Purge(ctx, st, fmt.Sprintf(`[[:db.purge/entity [:u/email "old%d@x"]]]`, i), &PurgeOptions{MaxRetries: 64})
		if err != nil {
			t.Fatalf("purge %d: %v", i, err)
		}
		if rep.Datoms == 0 {
			t.Fatalf("purge %d removed nothing", i)
		}
		purged++
		retries += rep.Retries
	}
	wg.Wait()
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	db, err := reader.OpenStore(ctx, openStore(t, url), nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !bytes.Contains([]byte(snap), []byte(fmt.Sprintf("new%d@x", i))) {
			t.Errorf("transaction new%d was lost", i)
		}
		gone := !bytes.Contains([]byte(snap), []byte(fmt.Sprintf("old%d@x", i)))
		if gone != (i%3 == 0) {
			t.Errorf("old%d: gone=%v, purged=%v", i, gone, i%3 == 0)
		}
	}
	t.Logf("%d writer commits, %d purges, %d purge retries", committed, purged, retries)
}
