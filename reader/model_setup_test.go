package reader

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
)

// modelDB starts a model test: a generator on seed (time-based when 0,
// logged with the flag that reruns it; rerun "" for a test without one)
// and stream, and an empty database in a memory bucket with node width 4
// (deep trees, entities across leaves) after schema. attr resolves an
// attribute's ident in that database.
func modelDB(t *testing.T, seed, stream uint64, rerun, schema string) (r *rand.Rand, db *DB, attr func(kw string) datom.ID) {
	t.Helper()
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if rerun != "" {
		t.Logf("seed %d (rerun with -%s=%d)", seed, rerun, seed)
	} else {
		t.Logf("seed %d", seed)
	}
	ctx := context.Background()
	st, err := konserve.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if db, err = NewEmpty(ctx, st, false, 4); err != nil {
		t.Fatal(err)
	}
	rep, err := db.With(ctx, schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	attr = func(kw string) datom.ID {
		t.Helper()
		id, ok := db.Schema().Entid(edn.Keyword(kw))
		if !ok {
			t.Fatalf("no attribute %s", kw)
		}
		return id
	}
	return rand.New(rand.NewPCG(seed, stream)), db, attr
}
