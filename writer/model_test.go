package writer

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/reader"
)

// The model: a plain list of facts and of every operation ever made,
// maintained with Datomic's semantics for the few forms the test uses,
// independently of package tx.

type fact struct {
	e    int // entity number in the test's pool
	attr string
	v    any // string, int64, or entity number (for refs) as int
}

type op struct {
	f     fact
	t     int64
	added bool
}

type model struct {
	cur  map[fact]int64 // fact -> t asserted
	ops  []op
	card map[string]bool // attr -> cardinality many
}

var modelSchema = `[
 {:db/ident :p/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/age   :db/valueType :db.type/long   :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :p/tag   :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}
 {:db/ident :p/friend :db/valueType :db.type/ref   :db/cardinality :db.cardinality/many}
 {:db/ident :p/note  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/noHistory true}
]`

var modelAttrs = []string{"p/name", "p/age", "p/tag", "p/email", "p/friend", "p/note"}

func (m *model) valuesOf(e int, attr string) []any {
	var out []any
	for f := range m.cur {
		if f.e == e && f.attr == attr {
			out = append(out, f.v)
		}
	}
	return out
}

func (m *model) assert(f fact, t int64) {
	if _, ok := m.cur[f]; ok {
		return
	}
	if !m.card[f.attr] {
		for _, old := range m.valuesOf(f.e, f.attr) {
			m.retract(fact{f.e, f.attr, old}, t)
		}
	}
	m.cur[f] = t
	m.ops = append(m.ops, op{f, t, true})
}

func (m *model) retract(f fact, t int64) {
	if _, ok := m.cur[f]; !ok {
		return
	}
	delete(m.cur, f)
	m.ops = append(m.ops, op{f, t, false})
}

// mop is one operation of a generated transaction, with its EDN form.
type mop struct {
	form  string
	apply func(m *model, t int64) error // nil error: applies; error: tx must fail
}

const poolSize = 12

func genTx(r *rand.Rand, m *model, ids map[int]datom.ID) []mop {
	n := 1 + r.IntN(4)
	used := map[string]bool{}
	var ops []mop
	for len(ops) < n {
		e := r.IntN(poolSize)
		eid := ids[e]
		kind := r.IntN(10)
		var attr string
		switch kind {
		case 0, 1:
			attr = "p/age"
		case 2, 3:
			attr = "p/tag"
		case 4:
			attr = "p/email"
		case 5:
			attr = "p/friend"
		case 6:
			attr = "p/note"
		case 7:
			attr = "*" // retractEntity
		case 8:
			attr = "cas"
		default:
			attr = "retract"
		}
		keyAttr := attr
		switch attr {
		case "retract":
			keyAttr = "p/tag"
		case "cas":
			keyAttr = "p/age"
		}
		key := fmt.Sprint(e, keyAttr)
		if used[key] || used[fmt.Sprint(e, "*")] || (attr == "*" && len(used) > 0) {
			continue
		}
		used[key] = true
		switch attr {
		case "p/age":
			v := int64(r.IntN(5))
			ops = append(ops, mop{fmt.Sprintf("[:db/add %d :p/age %d]", eid, v), func(m *model, t int64) error {
				m.assert(fact{e, attr, v}, t)
				return nil
			}})
		case "p/tag", "p/note":
			v := "t" + strconv.Itoa(r.IntN(4))
			ops = append(ops, mop{fmt.Sprintf("[:db/add %d :%s %q]", eid, attr, v), func(m *model, t int64) error {
				m.assert(fact{e, attr, v}, t)
				return nil
			}})
		case "p/email":
			v := "m" + strconv.Itoa(r.IntN(6))
			// Uniqueness is checked on the transaction's result (as
			// Datomic does: two entities may swap values in one
			// transaction), in runModel after all ops.
			ops = append(ops, mop{fmt.Sprintf("[:db/add %d :p/email %q]", eid, v), func(m *model, t int64) error {
				m.assert(fact{e, attr, v}, t)
				return nil
			}})
		case "p/friend":
			o := r.IntN(poolSize)
			if used[fmt.Sprint(o, "*")] {
				// T4: the retractEntity of o earlier in this transaction
				// skips a reference to o the transaction asserts, which a
				// model applying ops in order would record as a retraction
				// and a new assertion.
				continue
			}
			ops = append(ops, mop{fmt.Sprintf("[:db/add %d :p/friend %d]", eid, ids[o]), func(m *model, t int64) error {
				m.assert(fact{e, attr, o}, t)
				return nil
			}})
		case "*":
			ops = append(ops, mop{fmt.Sprintf("[:db/retractEntity %d]", eid), func(m *model, t int64) error {
				for f := range m.cur {
					if f.e == e || (f.attr == "p/friend" && f.v == e) {
						m.retract(f, t)
					}
				}
				return nil
			}})
		case "cas":
			cur := m.valuesOf(e, "p/age")
			var old any
			if len(cur) == 1 {
				old = cur[0]
			}
			if r.IntN(4) == 0 {
				old = int64(99) // a stale expectation: the cas must fail
			}
			nv := int64(r.IntN(5))
			oldText := "nil"
			if old != nil {
				oldText = fmt.Sprint(old)
			}
			ops = append(ops, mop{fmt.Sprintf("[:db/cas %d :p/age %s %d]", eid, oldText, nv), func(m *model, t int64) error {
				cur := m.valuesOf(e, "p/age")
				if (len(cur) == 0 && old != nil) || (len(cur) == 1 && cur[0] != old) {
					return errors.New("cas mismatch")
				}
				m.assert(fact{e, "p/age", nv}, t)
				return nil
			}})
		case "retract":
			vals := m.valuesOf(e, "p/tag")
			v := "t0"
			if len(vals) > 0 {
				v = vals[r.IntN(len(vals))].(string)
			}
			ops = append(ops, mop{fmt.Sprintf("[:db/retract %d :p/tag %q]", eid, v), func(m *model, t int64) error {
				m.retract(fact{e, "p/tag", v}, t)
				return nil
			}})
		}
	}
	return ops
}

// expected returns the model's datoms at t (or the history up to t), as
// test facts with their t and added flag, sorted.
func (m *model) at(asOf int64, since int64, history bool) []op {
	var out []op
	if history {
		for _, o := range m.ops {
			if o.t <= asOf && o.t > since {
				out = append(out, o)
			}
		}
	} else {
		state := map[fact]int64{}
		for _, o := range m.ops {
			if o.t > asOf {
				break
			}
			if o.added {
				state[o.f] = o.t
			} else {
				delete(state, o.f)
			}
		}
		for f, t := range state {
			if t > since {
				out = append(out, op{f, t, true})
			}
		}
	}
	sortOps(out)
	return out
}

func sortOps(ops []op) {
	slices.SortFunc(ops, func(a, b op) int {
		return cmp.Or(cmp.Compare(a.f.e, b.f.e), cmp.Compare(a.f.attr, b.f.attr),
			cmp.Compare(fmt.Sprint(a.f.v), fmt.Sprint(b.f.v)), cmp.Compare(a.t, b.t), cmp.Compare(fmt.Sprint(a.added), fmt.Sprint(b.added)))
	})
}

// observed reads the same facts from a database value through index idx.
func observed(t *testing.T, db *reader.DB, idx datom.Index, back map[datom.ID]int) []op {
	t.Helper()
	ctx := context.Background()
	attrs := map[datom.ID]string{}
	for _, a := range modelAttrs {
		id, ok := db.Schema().Entid(edn.Keyword(a))
		if !ok {
			t.Fatalf("no attribute %s", a)
		}
		attrs[id] = a
	}
	var out []op
	var prev datom.Datom
	first := true
	cmpf := datom.Comparator(idx)
	for id, name := range attrs {
		comps := []any{id}
		if idx == datom.EAVT || idx == datom.VAET {
			comps = nil
		}
		if (idx == datom.AVET && name != "p/age" && name != "p/name" && name != "p/email") || (idx == datom.VAET && name != "p/friend") {
			continue
		}
		first = true
		err := db.Datoms(context.Background(), idx, comps, func(d datom.Datom) bool {
			if !first && cmpf(prev, d) >= 0 {
				t.Fatalf("index %v out of order: %v then %v", idx, prev, d)
			}
			first, prev = false, d
			an, ok := attrs[d.A]
			if !ok || (len(comps) == 0 && d.A != id) {
				return true
			}
			e, ok := back[d.E]
			if !ok {
				t.Fatalf("datom of unknown entity %v", d)
			}
			v := d.V
			if an == "p/friend" {
				v = back[d.V.(int64)]
			}
			out = append(out, op{fact{e, an, v}, datom.TxT(d.Tx), d.Added})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(comps) == 0 {
			_ = ctx
		}
	}
	sortOps(out)
	return out
}

// modelTxs, when set, is the number of random transactions of each
// TestModel run, on every backend (scripts/soak.sh raises it).
var modelTxs = flag.Int("model.txs", 0, "random transactions per TestModel run (0: 150, 60 on S3)")

func TestModel(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"mem":  func(t *testing.T) string { return "mem://model-" + strconv.FormatInt(rand.Int64(), 36) },
		"file": func(t *testing.T) string { return "file://" + t.TempDir() },
		"s3":   func(t *testing.T) string { return testenv.S3URL(t) },
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			txs := 150
			if name == "s3" {
				txs = 60
			}
			if *modelTxs > 0 {
				txs = *modelTxs
			}
			runModel(t, mk(t), txs)
		})
	}
}

func runModel(t *testing.T, url string, txs int) {
	seed := rand.Uint64()
	if s := os.Getenv("ACCRETE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (rerun with ACCRETE_SEED=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()
	w, err := Create(ctx, url, &Options{Width: 4, TailBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, modelSchema); err != nil {
		t.Fatal(err)
	}
	m := &model{cur: map[fact]int64{}, card: map[string]bool{"p/tag": true, "p/friend": true}}
	// Create the pool of entities, each with a unique name.
	var forms string
	for i := 0; i < poolSize; i++ {
		forms += fmt.Sprintf(`{:db/id "e%d" :p/name "n%d"}`, i, i)
	}
	rep, err := w.Transact(ctx, "["+forms+"]")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]datom.ID{}
	back := map[datom.ID]int{}
	for i := 0; i < poolSize; i++ {
		ids[i] = rep.TempIDs.ID("e" + strconv.Itoa(i))
		back[ids[i]] = i
		m.assert(fact{i, "p/name", "n" + strconv.Itoa(i)}, rep.T)
	}
	firstT := rep.T
	lastT := rep.T
	failed := 0
	for i := 0; i < txs; i++ {
		ops := genTx(r, m, ids)
		text := "["
		for _, o := range ops {
			text += o.form + " "
		}
		text += "]"
		// Apply to a scratch copy of the model to learn whether the tx must fail.
		scratch := &model{cur: maps(m.cur), ops: slices.Clone(m.ops), card: m.card}
		var wantErr error
		for _, o := range ops {
			if wantErr = o.apply(scratch, lastT+1); wantErr != nil {
				break
			}
		}
		if wantErr == nil {
			owner := map[any]int{}
			for f := range scratch.cur {
				if f.attr != "p/email" {
					continue
				}
				if o, ok := owner[f.v]; ok && o != f.e {
					wantErr = errors.New("unique conflict")
				}
				owner[f.v] = f.e
			}
		}
		rep, err := w.Transact(ctx, text)
		if wantErr != nil {
			if err == nil {
				var mf []string
				for f := range m.cur {
					if f.attr == "p/email" {
						mf = append(mf, fmt.Sprint(ids[f.e], "=", f.v))
					}
				}
				var af []string
				em, _ := rep.DBBefore.Schema().Entid("p/email")
				rep.DBBefore.Datoms(ctx, datom.AVET, []any{em}, func(d datom.Datom) bool {
					af = append(af, fmt.Sprint(d.E, "=", d.V, "@", datom.TxT(d.Tx)))
					return true
				})
				t.Fatalf("tx %s: succeeded, model says %v\nmodel emails %v\naccrete AVET emails %v", text, wantErr, mf, af)
			}
			failed++
			continue
		}
		if err != nil {
			t.Fatalf("tx %s: %v", text, err)
		}
		if rep.T != lastT+1 {
			t.Fatalf("tx t = %d, want %d", rep.T, lastT+1)
		}
		lastT = rep.T
		// noHistory: the model forgets past values of :p/note.
		*m = *scratch
	}
	t.Logf("%d transactions, %d rejected as the model predicted", txs, failed)
	db, err := reader.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if db.BasisT() != lastT {
		t.Fatalf("reopened basis t = %d, want %d", db.BasisT(), lastT)
	}
	check := func(what string, got, want []op) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: got %d datoms, want %d\n got %v\nwant %v", what, len(got), len(want), got, want)
		}
	}
	noNote := func(ops []op) []op {
		return slices.DeleteFunc(slices.Clone(ops), func(o op) bool { return o.f.attr == "p/note" })
	}
	for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
		want := m.at(1<<60, -1, false)
		want = filterIdx(idx, want)
		check(fmt.Sprintf("current %v", idx), observed(t, db, idx, back), want)
	}
	for at := firstT; at <= lastT; at++ {
		want := filterIdx(datom.EAVT, m.at(at, -1, false))
		got := observed(t, db.AsOf(at), datom.EAVT, back)
		// :db/noHistory keeps no past values: compare without :p/note
		// except at the newest t.
		if at != lastT {
			want, got = noNote(want), noNote(got)
		}
		check(fmt.Sprintf("as-of %d", at), got, want)
		check(fmt.Sprintf("since %d", at), observed(t, db.Since(at), datom.AEVT, back), filterIdx(datom.AEVT, m.at(1<<60, at, false)))
	}
	// The log holds every transaction once, in order, whether merged into
	// the log tree or still in the tail.
	var logTs []int64
	err = db.TxRange(ctx, 0, 0, func(ti reader.TxInfo) bool {
		logTs = append(logTs, ti.T)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(logTs)) != lastT+1 || logTs[0] != 0 || logTs[len(logTs)-1] != lastT || !slices.IsSorted(logTs) {
		t.Fatalf("TxRange gave %d transactions %v…, want t 0..%d in order", len(logTs), logTs[:min(5, len(logTs))], lastT)
	}
	check("history", noNote(observed(t, db.History(), datom.EAVT, back)), noNote(m.at(1<<60, -1, true)))
	checkAttrCounts(t, db)
}

// checkAttrCounts checks that the head db was opened from carries
// statistics, and that Count of every attribute on AEVT (which the
// planner's estimates use, answered from those statistics and the log
// tail) equals its datoms in a scan of AEVT.
func checkAttrCounts(t *testing.T, db *reader.DB) {
	t.Helper()
	ctx := context.Background()
	if db.Head().Commit.Stats == nil {
		t.Fatal("the head's commit has no statistics")
	}
	scanned := map[datom.ID]int{}
	if err := db.Datoms(ctx, datom.AEVT, nil, func(d datom.Datom) bool {
		scanned[d.A]++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, kw := range []edn.Keyword{"p/name", "p/age", "p/email", "p/tag", "p/friend", "p/note"} {
		if a := db.Schema().AttrByIdent(kw); a != nil {
			scanned[a.ID] += 0 // an attribute with no datoms counts 0
		}
	}
	for a, want := range scanned {
		if got, err := db.Count(ctx, datom.AEVT, []any{a}); err != nil || got != want {
			t.Errorf("Count(AEVT, [%d]) = %d, %v; a scan finds %d", a, got, err, want)
		}
	}
}

func filterIdx(idx datom.Index, ops []op) []op {
	return slices.DeleteFunc(slices.Clone(ops), func(o op) bool {
		switch idx {
		case datom.AVET:
			return o.f.attr != "p/age" && o.f.attr != "p/name" && o.f.attr != "p/email"
		case datom.VAET:
			return o.f.attr != "p/friend"
		}
		return false
	})
}

func maps(m map[fact]int64) map[fact]int64 {
	out := make(map[fact]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
