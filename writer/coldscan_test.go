package writer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/reader"
)

// getRecorder is a konserve backend that remembers the keys read through
// it.
type getRecorder struct {
	konserve.Backend
	mu   sync.Mutex
	keys []string
}

func (g *getRecorder) Get(ctx context.Context, key string) ([]byte, error) {
	g.mu.Lock()
	g.keys = append(g.keys, key)
	g.mu.Unlock()
	return g.Backend.Get(ctx, key)
}

// TestColdScanGETs: a cold scan of a range that spans several leaves (an
// attribute in AEVT or AVET, a range of values through IndexRange) loads
// no leaf that starts past the range, neither to find the range's end nor
// by prefetching. Leaves are cut where the attribute (and, in AVET, the
// value's prefix) changes when sizes allow, so a range often ends with a
// leaf; the branches' fences (pss.IterOptions.Past) then tell the scan
// that the next leaf starts past it.
func TestColdScanGETs(t *testing.T) {
	ctx := context.Background()
	url := fmt.Sprintf("mem://coldscan-%d", rand.Int64())
	// Every commit merges its novelty into the trees (TailBytes 1), as
	// a database is after a merge: the scans read stored leaves only.
	w, err := Create(ctx, url, &Options{TailBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const (
		nEnt   = 3000
		nAttrs = 20
	)
	var schema strings.Builder
	schema.WriteString("[{:db/ident :s/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}")
	for j := range nAttrs {
		fmt.Fprintf(&schema, " {:db/ident :s/a%d :db/valueType :db.type/long :db/cardinality :db.cardinality/one}", j)
	}
	schema.WriteString("]")
	if _, err := w.Transact(ctx, schema.String()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nEnt; {
		var forms []any
		for ; len(forms) < 100 && i < nEnt; i++ {
			m := edn.Map{{Key: edn.Keyword("s/id"), Val: int64(i)}}
			for j := range nAttrs {
				m = append(m, edn.MapEntry{Key: edn.Keyword(fmt.Sprintf("s/a%d", j)), Val: int64(i*nAttrs + j)})
			}
			forms = append(forms, m)
		}
		if _, err := w.Transact(ctx, forms); err != nil {
			t.Fatal(err)
		}
	}
	base, err := konserve.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	db0, err := reader.OpenStore(ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	attr := func(kw string) datom.ID { return db0.Schema().AttrByIdent(edn.Keyword(kw)).ID }
	idAttr := attr("s/id")

	type scan struct {
		name string
		idx  datom.Index
		hi   datom.Datom // the range's last datom may be up to this one
		want int
		read func(db *reader.DB, fn func(datom.Datom) bool) error
	}
	var scans []scan
	for j := range nAttrs {
		a := attr(fmt.Sprintf("s/a%d", j))
		scans = append(scans, scan{
			name: fmt.Sprintf("AEVT s/a%d", j), idx: datom.AEVT, want: nEnt,
			hi: datom.Datom{A: a, E: math.MaxInt64},
			read: func(db *reader.DB, fn func(datom.Datom) bool) error {
				return db.Datoms(ctx, datom.AEVT, []any{a}, fn)
			},
		})
	}
	scans = append(scans, scan{
		name: "AVET s/id", idx: datom.AVET, want: nEnt,
		hi: datom.Datom{A: idAttr, V: int64(math.MaxInt64)},
		read: func(db *reader.DB, fn func(datom.Datom) bool) error {
			return db.Datoms(ctx, datom.AVET, []any{idAttr}, fn)
		},
	})
	// Ranges of whole value prefixes (a long's prefix drops its low 8
	// bits), where AVET's cuts go when they can.
	for lo := int64(0); lo+512 <= nEnt; lo += 256 {
		scans = append(scans, scan{
			name: fmt.Sprintf("IndexRange s/id [%d, %d)", lo, lo+512), idx: datom.AVET, want: 512,
			hi: datom.Datom{A: idAttr, V: lo + 511, E: math.MaxInt64},
			read: func(db *reader.DB, fn func(datom.Datom) bool) error {
				return db.IndexRange(ctx, idAttr, lo, lo+512, fn)
			},
		})
	}
	// past reports whether datom d is past sc.hi on the components that
	// order the scan (AEVT: attribute, entity; AVET: attribute, value).
	past := func(sc scan, d datom.Datom) bool {
		if d.A != sc.hi.A {
			return d.A > sc.hi.A
		}
		if sc.idx == datom.AEVT {
			return d.E > sc.hi.E
		}
		return datom.CompareValues(d.V, sc.hi.V) > 0
	}
	codec := map[datom.Index]node.KeyCodec[datom.Datom]{datom.AEVT: datom.Codec(datom.AEVT), datom.AVET: datom.Codec(datom.AVET)}
	ended := 0 // scans whose range ends with a leaf: the case at stake
	for _, sc := range scans {
		rec := &getRecorder{Backend: base.Backend()}
		st := konserve.New(rec, nil)
		db, err := reader.OpenStore(ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		if err := sc.read(db, func(datom.Datom) bool { got++; return true }); err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		if got != sc.want {
			t.Fatalf("%s: %d datoms, want %d", sc.name, got, sc.want)
		}
		leaves, mixed := 0, false
		for _, key := range rec.keys {
			h, ok := strings.CutPrefix(key, "nodes/")
			if !ok {
				continue
			}
			addr, err := node.ParseAddress(h[strings.LastIndexByte(h, '/')+1:])
			if err != nil {
				t.Fatalf("%s: key %s: %v", sc.name, key, err)
			}
			data, err := base.GetNode(ctx, konserve.Hash(addr))
			if err != nil {
				t.Fatalf("%s: %v", sc.name, err)
			}
			nd, err := node.Decode(data, codec[sc.idx])
			if err != nil || nd.Level != 0 {
				continue // the log tail, a branch, or a node of another index
			}
			leaves++
			if past(sc, nd.Keys[0]) {
				t.Errorf("%s: loaded leaf %s, which starts past the range at %v", sc.name, addr, nd.Keys[0])
			}
			mixed = mixed || past(sc, nd.Keys[len(nd.Keys)-1])
		}
		if leaves < 2 {
			t.Fatalf("%s: read %d leaves; the test needs ranges over several", sc.name, leaves)
		}
		if !mixed {
			ended++
		}
		st.Close()
	}
	// The data is made so that many ranges end with a leaf; if none did,
	// this test would test nothing.
	if ended < 3 {
		t.Fatalf("only %d of %d ranges end with a leaf; the test needs more", ended, len(scans))
	}
	t.Logf("%d of %d ranges end with a leaf", ended, len(scans))
}

// TestIndexRangeModel: IndexRange against a model, for values of each type
// whose bound IndexRange makes differently (longs and instants: the value
// just below the end; others: the end itself), with ends that are values
// held and values not held, on stored trees narrow enough that ranges span
// several leaves, and on a value with novelty in its log tail.
func TestIndexRangeModel(t *testing.T) {
	ctx := context.Background()
	url := fmt.Sprintf("mem://indexrange-%d", rand.Int64())
	w, err := Create(ctx, url, &Options{TailBytes: 1, Width: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	schema := `[{:db/ident :r/long :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :r/inst :db/valueType :db.type/instant :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :r/str :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :r/dbl :db/valueType :db.type/double :db/cardinality :db.cardinality/one :db/index true}]`
	if _, err := w.Transact(ctx, schema); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	longs := []int64{math.MinInt64, math.MinInt64 + 1, -300, -1, 0, 1, 255, 256, 257, 511, 512, 1000, math.MaxInt64 - 1, math.MaxInt64}
	domain := map[string]func() any{
		"r/long": func() any {
			if r.IntN(4) == 0 {
				return longs[r.IntN(len(longs))]
			}
			return r.Int64N(1200) - 100
		},
		"r/inst": func() any { return t0.Add(time.Duration(r.Int64N(600)) * time.Millisecond * 997) },
		"r/str":  func() any { return fmt.Sprintf("k%03d", r.IntN(300)) },
		"r/dbl":  func() any { return float64(r.IntN(400)) / 4 },
	}
	attrs := []string{"r/long", "r/inst", "r/str", "r/dbl"}
	for batch := range 12 {
		var forms []any
		for range 80 {
			m := edn.Map{}
			for _, a := range attrs {
				m = append(m, edn.MapEntry{Key: edn.Keyword(a), Val: domain[a]()})
			}
			forms = append(forms, m)
		}
		if batch == 11 {
			// The last transaction stays in the log tail, which the
			// scans then merge with the trees.
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w, err = Open(ctx, url, &Options{Width: 16}); err != nil {
				t.Fatal(err)
			}
			defer w.Close()
		}
		if _, err := w.Transact(ctx, forms); err != nil {
			t.Fatal(err)
		}
	}
	db := w.DB()
	if db.Head().Commit.Tail.IsZero() {
		t.Fatal("the last transaction is not in a log tail")
	}
	for _, name := range attrs {
		a := db.Schema().AttrByIdent(edn.Keyword(name))
		var all []datom.Datom
		if err := db.Datoms(ctx, datom.AVET, []any{a.ID}, func(d datom.Datom) bool { all = append(all, d); return true }); err != nil {
			t.Fatal(err)
		}
		if len(all) != 12*80 {
			t.Fatalf("%s: %d datoms, want %d", name, len(all), 12*80)
		}
		for range 300 {
			var start, end any
			pick := func() any {
				if r.IntN(2) == 0 {
					return all[r.IntN(len(all))].V // a value held
				}
				return domain[name]()
			}
			if r.IntN(6) > 0 {
				start = pick()
			}
			if r.IntN(6) > 0 {
				end = pick()
			}
			var want []datom.Datom
			for _, d := range all {
				if (start == nil || datom.CompareValues(d.V, start) >= 0) && (end == nil || datom.CompareValues(d.V, end) < 0) {
					want = append(want, d)
				}
			}
			var got []datom.Datom
			if err := db.IndexRange(ctx, a.ID, start, end, func(d datom.Datom) bool { got = append(got, d); return true }); err != nil {
				t.Fatalf("%s [%v, %v): %v", name, start, end, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s [%v, %v): %d datoms, want %d", name, start, end, len(got), len(want))
			}
			for i := range got {
				if got[i].E != want[i].E || datom.CompareValues(got[i].V, want[i].V) != 0 {
					t.Fatalf("%s [%v, %v): datom %d is %v, want %v", name, start, end, i, got[i], want[i])
				}
			}
		}
	}
}
