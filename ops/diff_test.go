package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

var diffSeed = flag.Uint64("diff.seed", 0, "seed of the random diff test (0: time-based)")

var diffMemSeq atomic.Int64

// diffMemURL names a fresh mem bucket, so that -count=N reruns start empty.
func diffMemURL(name string) string { return fmt.Sprintf("mem://%s-%d", name, diffMemSeq.Add(1)) }

const diffSchema = `[{:db/ident :d/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :d/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :d/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :d/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`

// eavtSet returns the current EAVT datoms of db, by a full scan.
func eavtSet(t testing.TB, db *reader.DB) map[string]datom.Datom {
	t.Helper()
	m := map[string]datom.Datom{}
	err := db.Datoms(context.Background(), datom.EAVT, nil, func(d datom.Datom) bool {
		m[fmt.Sprint(d)] = d
		return true
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return m
}

// wantDiff is the set difference of two full scans, in the form diffText
// prints.
func wantDiff(a, b map[string]datom.Datom) string {
	var lines []string
	for k := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, "+ "+k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			lines = append(lines, "- "+k)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// diffText runs Diff and prints its output sorted; it also checks that Diff
// reported datoms in EAVT order.
func diffText(t testing.TB, a, b *reader.DB) (string, DiffStats) {
	t.Helper()
	var lines []string
	var prev *datom.Datom
	st, err := Diff(context.Background(), a, b, func(d datom.Datom, added bool) bool {
		if prev != nil && datom.CompareEAVT(*prev, d) >= 0 {
			t.Errorf("diff out of order: %v then %v", *prev, d)
		}
		prev = &d
		sign := "- "
		if added {
			sign = "+ "
		}
		lines = append(lines, sign+fmt.Sprint(d))
		return true
	})
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), st
}

// randomTx returns random transaction data over a pool of n people; alive
// tracks who exists, so lookup refs only name existing people.
func randomTx(r *rand.Rand, n int, alive map[int]bool) string {
	var b strings.Builder
	b.WriteString("[")
	touched := map[int]bool{}
	for k := 0; k < 1+r.IntN(4); k++ {
		i := r.IntN(n)
		if touched[i] {
			continue
		}
		touched[i] = true
		p := fmt.Sprintf("%q", fmt.Sprintf("p%d", i))
		op := r.IntN(6)
		if !alive[i] && op >= 3 {
			op = 0
		}
		switch op {
		case 0, 1:
			fmt.Fprintf(&b, `{:d/name %s :d/age %d}`, p, r.IntN(100))
			alive[i] = true
		case 2:
			fmt.Fprintf(&b, `{:d/name %s :d/tag %q}`, p, fmt.Sprintf("t%d", r.IntN(5)))
			alive[i] = true
		case 3:
			fmt.Fprintf(&b, `[:db/retract [:d/name %s] :d/tag %q]`, p, fmt.Sprintf("t%d", r.IntN(5)))
		case 4:
			j := r.IntN(n)
			if touched[j] {
				continue
			}
			touched[j] = true
			fmt.Fprintf(&b, `{:d/name %s :d/friend {:d/name %q}}`, p, fmt.Sprintf("p%d", j))
			alive[j] = true
		case 5:
			fmt.Fprintf(&b, `[:db/retractEntity [:d/name %s]]`, p)
			delete(alive, i)
		}
	}
	b.WriteString("]")
	return b.String()
}

// TestDiffRandomPointsInTime checks Diff against the set difference of full
// EAVT scans for every pair of several points in time of one branch (values
// with and without a log-tail overlay, trees merged at different times), in
// both directions, and against a value of another bucket.
func TestDiffRandomPointsInTime(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -diff.seed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()
	st := openStore(t, diffMemURL("diff-random"))
	w, err := writer.CreateStore(ctx, st, &writer.Options{Width: 4, TailBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, diffSchema); err != nil {
		t.Fatal(err)
	}
	alive, alive2 := map[int]bool{}, map[int]bool{}
	var points []*reader.DB
	points = append(points, w.DB())
	merged := 0
	for i := 0; i < 120; i++ {
		rep, err := w.Transact(ctx, randomTx(r, 30, alive))
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
		// Every 15th-or-so value, and the first two whose commit merged
		// the tail (no overlay).
		if i%15 == 0 || i%15 == 7 {
			points = append(points, rep.DBAfter)
		} else if rep.DBAfter.TailBytes() == 0 && merged < 2 {
			points = append(points, rep.DBAfter)
			merged++
		}
	}
	// A commit merges its own tail only when no background merge is in
	// flight to wait for, which few seeds bring about: two values with
	// their tails merged into stored trees (as a background merge stores
	// them), so that values without an overlay are covered whatever the
	// seed.
	for _, k := range []int{1, len(points) / 2} {
		m, err := points[k].MergeTail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		points = append(points, m)
	}
	points = append(points, w.DB())
	// A value of another branch, forked from a point of main.
	if _, err := branch.Create(ctx, st, "side", points[3].Head().Addr); err != nil {
		t.Fatal(err)
	}
	side, err := writer.OpenStore(ctx, st, &writer.Options{Branch: "side", Width: 4, TailBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	sideAlive := map[int]bool{}
	for _, e := range eavtSet(t, points[3]) {
		if n, ok := e.V.(string); ok && strings.HasPrefix(n, "p") && e.A == attrIDOf(t, points[3], "d/name") {
			var i int
			fmt.Sscanf(n, "p%d", &i)
			sideAlive[i] = true
		}
	}
	for i := 0; i < 12; i++ {
		if _, err := side.Transact(ctx, randomTx(r, 30, sideAlive)); err != nil {
			t.Fatalf("side tx %d: %v", i, err)
		}
	}
	points = append(points, side.DB())
	// A value that never reached storage: novelty only in its overlay.
	withTx := `[{:d/name "with-only" :d/age 1}`
	for i := range 30 {
		if alive[i] {
			withTx += fmt.Sprintf(` [:db/retractEntity [:d/name "p%d"]]`, i)
			break
		}
	}
	rep, err := w.DB().With(ctx, withTx+"]", nil)
	if err != nil {
		t.Fatal(err)
	}
	points = append(points, rep.DBAfter)
	// A value of another database in another bucket.
	other := openStore(t, diffMemURL("diff-random-other"))
	w2, err := writer.CreateStore(ctx, other, &writer.Options{Width: 4, TailBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := w2.Transact(ctx, diffSchema); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := w2.Transact(ctx, randomTx(r, 30, alive2)); err != nil {
			t.Fatal(err)
		}
	}
	points = append(points, w2.DB())

	scans := make([]map[string]datom.Datom, len(points))
	for i, p := range points {
		scans[i] = eavtSet(t, p)
	}
	withOverlay := 0
	for i, p := range points {
		if adds, dels, _ := p.Overlay(ctx, datom.EAVT); len(adds)+len(dels) > 0 {
			withOverlay++
		}
		for j, q := range points {
			got, st := diffText(t, p, q)
			if want := wantDiff(scans[i], scans[j]); got != want {
				t.Fatalf("diff of points %d and %d:\ngot:\n%s\nwant:\n%s", i, j, got, want)
			}
			if i == j && st.NodesVisited != 0 {
				t.Errorf("diff of a value with itself visited %d nodes, want 0", st.NodesVisited)
			}
		}
	}
	if withOverlay == 0 || withOverlay == len(points) {
		t.Errorf("%d of %d points have an overlay: the test should cover both kinds", withOverlay, len(points))
	}
}

func attrIDOf(t testing.TB, db *reader.DB, kw string) datom.ID {
	t.Helper()
	id, ok := db.Schema().Entid(edn.Keyword(kw))
	if !ok {
		t.Fatalf("no attribute %s", kw)
	}
	return id
}

// TestDiffStopsEarly checks that Diff stops when fn returns false.
func TestDiffStopsEarly(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, diffMemURL("diff-stop"))
	w := buildDB(t, st, 3)
	a := w.DB()
	transactRange(t, w, 3, 10)
	calls := 0
	stats, err := Diff(ctx, a, w.DB(), func(datom.Datom, bool) bool { calls++; return calls < 2 })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || stats.Added+stats.Retracted != 2 {
		t.Errorf("calls %d, reported %d; want 2 and 2", calls, stats.Added+stats.Retracted)
	}
}

// TestDiffRefusesViews checks that as-of, since and history views are
// refused with ErrDiffView.
func TestDiffRefusesViews(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, diffMemURL("diff-views"))
	w := buildDB(t, st, 2)
	db := w.DB()
	for name, v := range map[string]*reader.DB{"as-of": db.AsOf(1), "since": db.Since(1), "history": db.History(), "nil": nil} {
		_, err := Diff(ctx, db, v, func(datom.Datom, bool) bool { return true })
		if !errors.Is(err, ErrDiffView) {
			t.Errorf("%s: err %v, want ErrDiffView", name, err)
		}
	}
}

// bigDB builds a database of about n datoms on st (names and ages of n/2
// people plus transaction instants, in transactions of 2,000 people) and
// returns its writer.
func bigDB(t testing.TB, st *konserve.Store, n int, opts *writer.Options) *writer.Writer {
	t.Helper()
	ctx := context.Background()
	w, err := writer.CreateStore(ctx, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := w.Transact(ctx, diffSchema); err != nil {
		t.Fatal(err)
	}
	const per = 2000
	for p := 0; p < n/2; p += per {
		forms := make([]any, 0, per)
		for k := p; k < p+per && k < n/2; k++ {
			forms = append(forms, map[string]any{":d/name": fmt.Sprintf("p%07d", k), ":d/age": int64(k % 97)})
		}
		if _, err := w.Transact(ctx, ednVector(forms)); err != nil {
			t.Fatalf("load at %d: %v", p, err)
		}
	}
	return w
}

// ednVector prints map forms of string keys as EDN text.
func ednVector(forms []any) string {
	var b strings.Builder
	b.WriteString("[")
	for _, f := range forms {
		m := f.(map[string]any)
		fmt.Fprintf(&b, "{:d/name %q :d/age %d}", m[":d/name"], m[":d/age"])
	}
	b.WriteString("]")
	return b.String()
}

// changeAges updates the ages of k people spread over the database, one
// transaction each.
func changeAges(t testing.TB, w *writer.Writer, people, k int) {
	t.Helper()
	for i := 0; i < k; i++ {
		p := (i*7919 + 13) % people
		tx := fmt.Sprintf(`[{:d/name "p%07d" :d/age %d}]`, p, 1000+i)
		if _, err := w.Transact(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiffCostProportionalToChange checks on a 100k-datom database that a
// diff of values a few transactions apart visits a number of nodes bounded
// by the change, far below the size of the tree, both when the change sits
// in the log-tail overlay and when it was merged into the stored trees.
func TestDiffCostProportionalToChange(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100k-datom database; skipped with -short")
	}
	ctx := context.Background()
	const datoms = 100_000
	st := openStore(t, diffMemURL("diff-big"))
	w := bigDB(t, st, datoms, &writer.Options{Width: 32, TailBytes: 1})
	a := w.DB()
	for _, tc := range []struct {
		name      string
		tailBytes int64
	}{{"overlay", 0}, {"merged", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case changes its own branch forked from a.
			if _, err := branch.Create(ctx, st, tc.name, a.Head().Addr); err != nil {
				t.Fatal(err)
			}
			w2, err := writer.OpenStore(ctx, st, &writer.Options{Branch: tc.name, Width: 32, TailBytes: tc.tailBytes})
			if err != nil {
				t.Fatal(err)
			}
			defer w2.Close()
			const changes = 5
			changeAges(t, w2, datoms/2, changes)
			b := w2.DB()
			adds, dels, err := b.Overlay(ctx, datom.EAVT)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "overlay" && len(adds) == 0 || tc.name == "merged" && len(adds)+len(dels) != 0 {
				t.Fatalf("%s: overlay of b has %d adds, %d dels", tc.name, len(adds), len(dels))
			}
			got, stats := diffText(t, a, b)
			if want := wantDiff(eavtSet(t, a), eavtSet(t, b)); got != want {
				t.Fatalf("diff:\ngot:\n%s\nwant:\n%s", got, want)
			}
			r, _ := b.Head().Commit.Root("eavt")
			// Each change transaction asserts a new age, retracts the old
			// one and adds a :db/txInstant: 3 datoms in 2 leaf regions.
			changedDatoms := stats.Added + stats.Retracted
			bound := 4*r.Depth*2*changes + len(adds) + len(dels)
			t.Logf("count %d depth %d: changed datoms %d, nodes visited %d (bound %d), skipped %d",
				r.Count, r.Depth, changedDatoms, stats.NodesVisited, bound, stats.SubtreesSkipped)
			if changedDatoms != 3*changes {
				t.Errorf("changed datoms %d, want %d", changedDatoms, 3*changes)
			}
			if stats.NodesVisited > bound {
				t.Errorf("nodes visited %d, want <= %d", stats.NodesVisited, bound)
			}
			leaves := int(r.Count) / 32
			if stats.NodesVisited*20 > leaves {
				t.Errorf("nodes visited %d is not far below the %d leaves", stats.NodesVisited, leaves)
			}
		})
	}
}

// BenchmarkDiff1M measures a diff of two 1,000,000-datom values that differ
// by 102 datoms (34 transactions, merged into the stored trees). "warm"
// diffs values whose store cache already holds the nodes; "cold" opens both
// values from their commits on a fresh store (empty cache) each time, so it
// counts the bucket GETs a diff costs, opening included.
func BenchmarkDiff1M(b *testing.B) {
	ctx := context.Background()
	url := diffMemURL("diff-bench")
	st := openStore(b, url)
	const datoms = 1_000_000
	w := bigDB(b, st, datoms, &writer.Options{TailBytes: 1})
	a := w.DB()
	// 33 updates give 99 datoms (new age, old age retracted, tx instant);
	// one more new person gives name, age and instant: 102.
	changeAges(b, w, datoms/2, 33)
	if _, err := w.Transact(ctx, `[{:d/name "extra" :d/age 1}]`); err != nil {
		b.Fatal(err)
	}
	db := w.DB()
	if r, ok := db.Head().Commit.Root("eavt"); ok {
		b.Logf("eavt: %d datoms, depth %d", r.Count, r.Depth)
	}
	report := func(b *testing.B, stats DiffStats) {
		b.ReportMetric(float64(stats.NodesVisited), "nodes/diff")
		b.ReportMetric(float64(stats.Added+stats.Retracted), "datoms/diff")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/diff")
	}
	b.Run("warm", func(b *testing.B) {
		var stats DiffStats
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if stats, err = Diff(ctx, a, db, func(datom.Datom, bool) bool { return true }); err != nil {
				b.Fatal(err)
			}
		}
		report(b, stats)
	})
	b.Run("cold", func(b *testing.B) {
		var stats DiffStats
		gets := int64(0)
		b.ReportAllocs()
		for b.Loop() {
			fresh, err := konserve.Open(ctx, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			x, err := reader.FromCommit(ctx, fresh, a.Head().Addr, 0)
			if err != nil {
				b.Fatal(err)
			}
			y, err := reader.FromCommit(ctx, fresh, db.Head().Addr, 0)
			if err != nil {
				b.Fatal(err)
			}
			if stats, err = Diff(ctx, x, y, func(datom.Datom, bool) bool { return true }); err != nil {
				b.Fatal(err)
			}
			gets += fresh.Stats().Gets
			fresh.Close()
		}
		report(b, stats)
		b.ReportMetric(float64(gets)/float64(b.N), "GETs/diff")
	})
}

// TestDiffOverlayResolution checks resolve and dependsOnStore against the
// definition value = (stored − dels) ∪ adds for every combination of
// overlay memberships and stored membership.
func TestDiffOverlayResolution(t *testing.T) {
	k := datom.Datom{E: 1, A: 2, V: "x", Tx: 3, Added: true}
	for mask := 0; mask < 32; mask++ {
		bit := func(i int) bool { return mask&(1<<i) != 0 }
		list := func(in bool) []datom.Datom {
			if in {
				return []datom.Datom{k}
			}
			return nil
		}
		stored := bit(4)
		d := &differ{addsA: list(bit(0)), delsA: list(bit(1)), addsB: list(bit(2)), delsB: list(bit(3))}
		va := (stored && !bit(1)) || bit(0)
		vb := (stored && !bit(3)) || bit(2)
		var got []bool
		d.fn = func(_ datom.Datom, added bool) bool { got = append(got, added); return true }
		in := stored
		if !d.dependsOnStore(k) {
			in = false // what flushOverlay passes when it skips the lookup
		}
		if err := d.resolve(k, in, in); err != nil {
			t.Fatal(err)
		}
		var want []bool
		if va != vb {
			want = []bool{vb}
		}
		if !slices.Equal(got, want) {
			t.Errorf("mask %05b: reported %v, want %v", mask, got, want)
		}
	}
}

// ExampleDiff compares a database before and after a transaction.
func ExampleDiff() {
	ctx := context.Background()
	w, err := writer.Create(ctx, diffMemURL("example-diff"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	var before *reader.DB
	for i, data := range []string{
		`[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
		  {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`,
		`[{:person/name "ann" :person/age 41}]`,
		`[{:person/name "ann" :person/age 42} {:person/name "bob" :person/age 7}]`,
	} {
		if i == 2 {
			before = w.DB()
		}
		if _, err := w.Transact(ctx, data); err != nil {
			fmt.Println(err)
			return
		}
	}
	after := w.DB()

	schema := after.Schema()
	_, err = Diff(ctx, before, after, func(d datom.Datom, added bool) bool {
		if d.A == datom.DBTxInstant {
			return true // the transaction's own instant
		}
		a, _ := schema.Ident(d.A)
		sign := "-"
		if added {
			sign = "+"
		}
		fmt.Println(sign, a, d.V)
		return true
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// - :person/age 41
	// + :person/age 42
	// + :person/name bob
	// + :person/age 7
}
