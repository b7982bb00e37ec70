package reader_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// newLog makes a database on a private mem bucket with n one-datom
// transactions after the schema, merging the tail every few commits
// (TailBytes is tiny), and returns the writer and the t of the first.
func newLog(t *testing.T, n int) (*writer.Writer, int64) {
	t.Helper()
	ctx := context.Background()
	w, err := writer.Create(ctx, "mem://", &writer.Options{Width: 4, TailBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := w.Transact(ctx, `[{:db/ident :r/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`); err != nil {
		t.Fatal(err)
	}
	first := w.DB().BasisT() + 1
	for i := 0; i < n; i++ {
		if _, err := w.Transact(ctx, fmt.Sprintf(`[[:db/add "e" :r/n %d]]`, i)); err != nil {
			t.Fatal(err)
		}
	}
	return w, first
}

// values returns, per transaction TxRange reports, the :r/n value it added.
func values(t *testing.T, db *reader.DB, from, to int64, limit int) []int64 {
	t.Helper()
	a, _ := db.Schema().Entid("r/n")
	var out []int64
	err := db.TxRange(context.Background(), from, to, func(ti reader.TxInfo) bool {
		for _, d := range ti.Datoms {
			if d.A == a {
				out = append(out, d.V.(int64))
			}
			if d.Tx != ti.TxID || datom.TxT(d.Tx) != ti.T {
				t.Errorf("datom %v in transaction %d (t %d)", d, ti.TxID, ti.T)
			}
		}
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTxRange(t *testing.T) {
	w, first := newLog(t, 20)
	db := w.DB()
	cases := []struct {
		name      string
		from, to  int64
		limit     int
		wantFirst int64
		wantLen   int
	}{
		{"all", first, 0, 0, 0, 20},
		{"from the start of time", 0, 0, 0, -1, 21}, // t 0.. includes the schema transaction (no :r/n)
		{"a window", first + 5, first + 8, 0, 5, 3},
		{"by transaction ids", datom.TxID(first + 5), datom.TxID(first + 8), 0, 5, 3},
		{"stop early", first, 0, 4, 0, 4},
		{"empty", first + 8, first + 8, 0, 0, 0},
		{"past the end", first + 100, 0, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := values(t, db, c.from, c.to, c.limit)
			if c.wantFirst < 0 {
				// Only the count of value-carrying transactions is checked.
				if len(got) != 20 {
					t.Fatalf("got %d values, want 20", len(got))
				}
				return
			}
			if len(got) != c.wantLen {
				t.Fatalf("TxRange(%d, %d) gave values %v, want %d of them", c.from, c.to, got, c.wantLen)
			}
			for i, v := range got {
				if v != c.wantFirst+int64(i) {
					t.Fatalf("TxRange(%d, %d) gave values %v, want consecutive from %d", c.from, c.to, got, c.wantFirst)
				}
			}
		})
	}
}

// TestTxRangeSameAcrossMerges: the log read from the writer's value and
// from a freshly opened one (tail merged into the trees at different
// points) is the same.
func TestTxRangeSameAcrossMerges(t *testing.T) {
	w, first := newLog(t, 30)
	fresh, err := reader.OpenStore(context.Background(), w.Store(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := values(t, w.DB(), first, 0, 0), values(t, fresh, first, 0, 0)
	if fmt.Sprint(a) != fmt.Sprint(b) || len(a) != 30 {
		t.Fatalf("writer's log %v, reopened log %v; want the same 30 values", a, b)
	}
}

// TestWatchFromOldValue: a watcher starting from an old value receives
// every later transaction, in order, even though the log tail was merged
// into the trees several times in between, and stops when fn says so.
func TestWatchFromOldValue(t *testing.T) {
	ctx := context.Background()
	w, first := newLog(t, 3)
	old := w.DB()
	for i := 3; i < 25; i++ {
		if _, err := w.Transact(ctx, fmt.Sprintf(`[[:db/add "e" :r/n %d]]`, i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	stop := errors.New("stop")
	err := reader.Watch(ctx, w.Store(), &reader.WatchOptions{From: old, Interval: time.Millisecond}, func(db *reader.DB, txs []reader.TxInfo) error {
		a, _ := db.Schema().Entid("r/n")
		for _, ti := range txs {
			for _, d := range ti.Datoms {
				if d.A == a {
					got = append(got, d.V.(int64))
				}
			}
		}
		if db.BasisT() == first+24 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Watch returned %v, want fn's error", err)
	}
	if len(got) != 22 {
		t.Fatalf("watcher saw values %v, want 3..24", got)
	}
	for i, v := range got {
		if v != int64(i+3) {
			t.Fatalf("watcher saw values %v, want 3..24 in order", got)
		}
	}
}

// TestWatchCancel: Watch returns ctx's error when ctx ends.
func TestWatchCancel(t *testing.T) {
	w, _ := newLog(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	calls := 0
	err := reader.Watch(ctx, w.Store(), &reader.WatchOptions{Interval: time.Millisecond}, func(*reader.DB, []reader.TxInfo) error {
		calls++
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Watch returned %v, want context.DeadlineExceeded", err)
	}
	if calls != 0 {
		t.Fatalf("fn called %d times with no commit, want 0", calls)
	}
}
