package ops

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

const purgeTestSchema = `[
 {:db/ident :u/email  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :u/name   :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :u/tag    :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :u/friend :db/valueType :db.type/ref    :db/cardinality :db.cardinality/many}
 {:db/ident :u/addr   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one :db/isComponent true}
 {:db/ident :a/street :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :u/note   :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/noHistory true}
 {:db/ident :u/name+email :db/valueType :db.type/tuple :db/tupleAttrs [:u/name :u/email] :db/cardinality :db.cardinality/one}]`

// purgeWorkload transacts n random transactions over 8 users on w, with
// distinct instants one second apart from t0.
func purgeWorkload(t testing.TB, r *rand.Rand, w *writer.Writer, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.Transact(ctx, purgeTestSchema); err != nil {
		t.Fatal(err)
	}
	for u := range 8 {
		if _, err := w.Transact(ctx, fmt.Sprintf(`[{:u/email "u%d@x" :u/name "n%d-0"}]`, u, u)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		u := r.IntN(8)
		ref := fmt.Sprintf(`[:u/email "u%d@x"]`, u)
		var form string
		switch r.IntN(8) {
		case 0:
			form = fmt.Sprintf(`[[:db/add %s :u/name "n%d-%d"]]`, ref, u, i)
		case 1:
			form = fmt.Sprintf(`[[:db/add %s :u/tag "tag%d"]]`, ref, r.IntN(4))
		case 2:
			form = fmt.Sprintf(`[[:db/retract %s :u/tag "tag%d"]]`, ref, r.IntN(4))
		case 3:
			form = fmt.Sprintf(`[[:db/add %s :u/friend [:u/email "u%d@x"]]]`, ref, r.IntN(8))
		case 4:
			form = fmt.Sprintf(`[[:db/retract %s :u/friend [:u/email "u%d@x"]]]`, ref, r.IntN(8))
		case 5:
			form = fmt.Sprintf(`[{:db/id %s :u/addr {:a/street "s%d"}}]`, ref, i)
		case 6:
			form = fmt.Sprintf(`[[:db/add %s :u/note "note%d"]]`, ref, i)
		case 7:
			form = fmt.Sprintf(`[[:db/retract %s :u/name "n%d-0"]]`, ref, u)
		}
		if _, err := w.Transact(ctx, form); err != nil && !strings.Contains(err.Error(), "not") {
			t.Fatalf("tx %d %s: %v", i, form, err)
		}
	}
}

// viewDump returns every datom of v in index idx (datoms of transactions
// after maxT left out).
func viewDump(t testing.TB, v *reader.DB, idx datom.Index, maxT int64) []datom.Datom {
	t.Helper()
	var out []datom.Datom
	if err := v.Datoms(context.Background(), idx, nil, func(d datom.Datom) bool {
		if datom.TxT(d.Tx) <= maxT {
			out = append(out, d)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func logDump(t testing.TB, db *reader.DB, maxT int64) []datom.Datom {
	t.Helper()
	var out []datom.Datom
	if err := db.TxRange(context.Background(), 0, maxT+1, func(ti reader.TxInfo) bool {
		out = append(out, ti.Datoms...)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// minus returns xs without the datoms in rm (exact match, Tx and Added
// included).
func minus(xs, rm []datom.Datom) []datom.Datom {
	var out []datom.Datom
	for _, d := range xs {
		if !slices.ContainsFunc(rm, func(r datom.Datom) bool { return datom.CompareEAVT(d, r) == 0 }) {
			out = append(out, d)
		}
	}
	return out
}

func sameDatoms(a, b []datom.Datom) bool {
	return slices.EqualFunc(a, b, func(x, y datom.Datom) bool { return datom.CompareEAVT(x, y) == 0 })
}

// purgeModel is what the purge forms remove, computed from the log alone
// (every datom ever transacted) and the current value: Datahike's
// semantics written as plainly as possible.
func purgeModel(log []datom.Datom, now *reader.DB, ops []modelOp) []datom.Datom {
	s := now.Schema()
	isRef := func(a datom.ID) bool { at := s.Attr(a); return at != nil && at.IsRef() }
	isComp := func(a datom.ID) bool { at := s.Attr(a); return at != nil && at.IsComponent }
	var out []datom.Datom
	done := map[datom.ID]bool{}
	var entity func(e datom.ID)
	entity = func(e datom.ID) {
		if done[e] {
			return
		}
		done[e] = true
		var comps []datom.ID
		for _, d := range log {
			if d.E == e || (isRef(d.A) && d.V == any(e)) {
				out = append(out, d)
			}
			if d.E == e && d.Added && isComp(d.A) {
				comps = append(comps, d.V.(int64))
			}
		}
		for _, c := range comps {
			entity(c)
		}
	}
	// tupleIndex returns where attribute a sits in composite tuple
	// attribute ta (-1: not in it).
	tupleIndex := func(ta, a datom.ID) int {
		if at := s.Attr(ta); at != nil {
			return slices.Index(at.TupleAttrs, a)
		}
		return -1
	}
	for _, op := range ops {
		switch op.kind {
		case OpPurge:
			for _, d := range log {
				if d.E != op.e {
					continue
				}
				if d.A == op.a && datom.CompareValues(d.V, op.v) == 0 {
					out = append(out, d)
				}
				if k := tupleIndex(d.A, op.a); k >= 0 && datom.CompareValues(d.V.(edn.Vector)[k], op.v) == 0 {
					out = append(out, d)
				}
			}
		case OpPurgeAttribute:
			var comps []datom.ID
			for _, d := range log {
				if d.E == op.e && tupleIndex(d.A, op.a) >= 0 {
					out = append(out, d)
				}
				if d.E == op.e && d.A == op.a {
					out = append(out, d)
					if d.Added && isComp(d.A) {
						comps = append(comps, d.V.(int64))
					}
				}
			}
			for _, c := range comps {
				entity(c)
			}
		case OpPurgeEntity:
			entity(op.e)
		case OpPurgeHistoryBefore:
			for _, d := range log {
				if datom.TxT(d.Tx) > op.cut || datom.Part(d.E) == datom.PartDB {
					continue
				}
				current := false
				_ = now.Datoms(context.Background(), datom.EAVT, []any{d.E, d.A, d.V, d.Tx}, func(datom.Datom) bool {
					current = true
					return false
				})
				if !d.Added || !current {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

type modelOp struct {
	kind edn.Keyword
	e, a datom.ID
	v    any
	cut  int64 // last t before the instant
	form edn.Vector
}

// randomPurgeOps picks 1–3 purge operations naming things in the log.
func randomPurgeOps(r *rand.Rand, log []datom.Datom, db *reader.DB) []modelOp {
	s := db.Schema()
	var user []datom.Datom
	for _, d := range log {
		if datom.Part(d.E) == datom.PartUser {
			user = append(user, d)
		}
	}
	var ops []modelOp
	for range 1 + r.IntN(3) {
		d := user[r.IntN(len(user))]
		ident, _ := s.Ident(d.A)
		switch r.IntN(5) {
		case 0, 1:
			v := d.V
			if at := s.Attr(d.A); at.IsRef() {
				v = d.V.(int64)
			}
			ops = append(ops, modelOp{kind: OpPurge, e: d.E, a: d.A, v: d.V, form: edn.Vector{OpPurge, d.E, ident, v}})
		case 2:
			ops = append(ops, modelOp{kind: OpPurgeAttribute, e: d.E, a: d.A, form: edn.Vector{OpPurgeAttribute, d.E, ident}})
		case 3:
			ops = append(ops, modelOp{kind: OpPurgeEntity, e: d.E, form: edn.Vector{OpPurgeEntity, d.E}})
		case 4:
			// Before the instant of a random transaction of the log: every
			// transaction before it (its instants are distinct).
			cut := datom.TxT(d.Tx) - 1
			var inst time.Time
			_ = db.Datoms(context.Background(), datom.EAVT, []any{d.Tx, datom.DBTxInstant}, func(x datom.Datom) bool {
				inst = x.V.(time.Time)
				return false
			})
			ops = append(ops, modelOp{kind: OpPurgeHistoryBefore, cut: cut, form: edn.Vector{OpPurgeHistoryBefore, inst}})
		}
	}
	return ops
}

// steppingClock returns a clock that advances a second per call, so every
// transaction has its own instant.
func steppingClock() func() time.Time {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	return func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }
}

// TestPurgeModel: on random databases, random purge operations remove
// exactly what the model says from every view — current, as of every t,
// since every t, history, every index, and the log — and nothing else; the
// purge transaction records the operations and the count, not values.
func TestPurgeModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	total, tuples := 0, 0
	defer func() {
		t.Logf("%d datoms purged in all", total)
		if tuples == 0 {
			t.Error("no composite tuple datoms in the logs: the model does not cover them")
		}
	}()
	for round := range 12 {
		url := scratchURL(t)
		clock := steppingClock()
		w, err := writer.Create(ctx, url, &writer.Options{Width: 4, TailBytes: int64(100 + r.IntN(800)), Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		purgeWorkload(t, r, w, 20+r.IntN(40))
		w.Close()
		st := openStore(t, url)
		before, err := reader.OpenStore(ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		basis := before.BasisT()
		log := logDump(t, before, basis)
		tupleAttr, _ := before.Schema().Entid("u/name+email")
		for _, d := range log {
			if d.A == tupleAttr {
				tuples++
			}
		}
		mops := randomPurgeOps(r, log, before)
		var forms edn.Vector
		for _, op := range mops {
			forms = append(forms, op.form)
		}
		want := purgeModel(log, before, mops)
		slices.SortFunc(want, datom.CompareEAVT)
		want = slices.CompactFunc(want, func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 })

		rep, err := Purge(ctx, st, forms, &PurgeOptions{By: "test", Now: clock})
		if err != nil {
			t.Fatalf("round %d: purge %s: %v", round, edn.String(forms), err)
		}
		total += len(want)
		if rep.Datoms != len(want) {
			t.Errorf("round %d: %s: purged %d datoms, model %d", round, edn.String(forms), rep.Datoms, len(want))
		}
		// Reopen through a fresh store: what was committed, not memory.
		after, err := reader.OpenStore(ctx, openStore(t, url), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) > 0 && after.BasisT() <= basis {
			t.Fatalf("round %d: no purge transaction (basis %d → %d)", round, basis, after.BasisT())
		}
		check := func(name string, b, a *reader.DB) {
			t.Helper()
			for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
				exp := minus(viewDump(t, b, idx, basis), want)
				got := viewDump(t, a, idx, basis)
				if !sameDatoms(exp, got) {
					t.Fatalf("round %d: %s %v after %s:\n got %v\nwant %v", round, name, idx, edn.String(forms), got, exp)
				}
			}
		}
		check("now", before, after)
		check("history", before.History(), after.History())
		for tt := int64(0); tt <= basis; tt++ {
			check(fmt.Sprintf("as-of %d", tt), before.AsOf(tt), after.AsOf(tt))
			if tt%5 == 0 {
				check(fmt.Sprintf("since %d", tt), before.Since(tt), after.Since(tt))
				check(fmt.Sprintf("history as-of %d", tt), before.History().AsOf(tt), after.History().AsOf(tt))
			}
		}
		if exp, got := minus(log, want), logDump(t, after, basis); !sameDatoms(exp, got) {
			t.Fatalf("round %d: log after %s:\n got %v\nwant %v", round, edn.String(forms), got, exp)
		}
		n, err := after.Count(ctx, datom.EAVT, nil)
		if err != nil {
			t.Fatal(err)
		}
		if all := viewDump(t, after, datom.EAVT, 1<<40); n != len(all) {
			t.Errorf("round %d: Count %d, %d datoms", round, n, len(all))
		}
		if len(want) > 0 {
			// The purge commit merged the tail: the stored trees hold
			// everything, and the commit's counts and Stats agree with them.
			stats, err := after.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{"eavt": len(viewDump(t, after, datom.EAVT, 1<<40)), "log": len(logDump(t, after, 1<<40))}
			for _, is := range stats.Indexes {
				r, _ := after.Head().Commit.Root(is.Name)
				if r.Count != is.Datoms {
					t.Errorf("round %d: commit counts %d datoms in %s, Stats %d", round, r.Count, is.Name, is.Datoms)
				}
				if c, ok := counts[is.Name]; ok && int64(c) != is.Datoms {
					t.Errorf("round %d: Stats counts %d datoms in %s, scan %d", round, is.Datoms, is.Name, c)
				}
			}
			if stats.TailDatoms != 0 {
				t.Errorf("round %d: %d datoms in the tail after a purge", round, stats.TailDatoms)
			}
		}
		if len(want) == 0 {
			continue
		}
		// The purge transaction says what, how much and who; never values.
		var audit []datom.Datom
		_ = after.Datoms(ctx, datom.EAVT, []any{rep.TxID}, func(d datom.Datom) bool {
			audit = append(audit, d)
			return true
		})
		text := fmt.Sprint(audit)
		if !strings.Contains(text, fmt.Sprint(len(want))) || !strings.Contains(text, "test") {
			t.Errorf("round %d: audit %s lacks the count or the principal", round, text)
		}
		for _, d := range want {
			if s, ok := d.V.(string); ok && strings.Contains(text, s) {
				t.Errorf("round %d: audit %s records a purged value %q", round, text, s)
			}
		}
	}
}

// TestPurgeErrors: bad purge data fails with ErrInvalidPurge, naming the
// form, and leaves the head where it was.
func TestPurgeErrors(t *testing.T) {
	ctx := context.Background()
	url := scratchURL(t)
	w, err := writer.Create(ctx, url, &writer.Options{Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	purgeWorkload(t, rand.New(rand.NewPCG(1, 2)), w, 10)
	w.Close()
	st := openStore(t, url)
	h0, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ data, want string }{
		{`[]`, "no purge forms"},
		{``, "purge"},
		{`{:a 1}`, "vector"},
		{`[[:db/add 1 :u/name "x"]]`, "form 0"},
		{`[[:db.purge/entity [:u/email "u1@x"]] [:db/retractEntity 5]]`, "form 1"},
		{`[[:db.purge/entity]]`, "takes 1 arguments"},
		{`[[:db/purge [:u/email "u1@x"] :u/name]]`, "takes 3 arguments"},
		{`[[:db.purge/attribute [:u/email "u1@x"] :u/nope]]`, "unknown attribute :u/nope"},
		{`[[:db.purge/entity [:u/email "nobody@x"]]]`, "no entity has or had"},
		{`[[:db.purge/entity [:u/name "n1-0"]]]`, "not unique"},
		{`[[:db.purge/entity :u/name]]`, "schema entity"},
		{`[[:db.purge/entity :no/such]]`, "unknown ident"},
		{`[[:db.history.purge/before "2020"]]`, "needs an instant"},
		{`[[:db/purge [:u/email "u1@x"] :u/name 7]]`, "value for :u/name"},
		{`[[:db.purge/entity "tempid"]]`, "cannot name an entity"},
		{`[[:db.purge/entity -5]]`, "not an entity id"},
		{fmt.Sprintf(`[[:db.purge/entity %d]]`, datom.TxID(3)), "transaction"},
		{fmt.Sprintf(`[[:db/purge %d :db/txInstant #inst "2020-01-01"]]`, datom.TxID(3)), "built-in attribute"},
	}
	for _, c := range cases {
		_, err := Purge(ctx, st, c.data, nil)
		if !errors.Is(err, ErrInvalidPurge) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Purge(%s) = %v, want ErrInvalidPurge with %q", c.data, err, c.want)
		}
	}
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	if h.Addr != h0.Addr {
		t.Errorf("head moved from %s to %s after failed purges", h0.Addr, h.Addr)
	}
	// Nothing matching is not an error, and writes nothing.
	rep, err := Purge(ctx, st, `[[:db/purge [:u/email "u1@x"] :u/name "never"]]`, nil)
	if err != nil || rep.Datoms != 0 || rep.Head != nil {
		t.Errorf("purge of nothing: %+v, %v", rep, err)
	}
	// A dry run counts but writes nothing.
	rep, err = Purge(ctx, st, `[[:db.purge/entity [:u/email "u1@x"]]]`, &PurgeOptions{DryRun: true})
	if err != nil || rep.Datoms == 0 || rep.Head != nil {
		t.Errorf("dry run: %+v, %v", rep, err)
	}
	if h, _ := branch.Read(ctx, st, branch.Default); h.Addr != h0.Addr {
		t.Errorf("dry run moved the head")
	}
}

// TestPurgeOneBranch: purge works on one branch; another branch forked
// before keeps the datoms (and GC keeps their nodes) until it is purged
// too, after which no object holds the value.
func TestPurgeOneBranch(t *testing.T) {
	ctx := context.Background()
	url := scratchURL(t)
	w, err := writer.Create(ctx, url, &writer.Options{Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Transact(ctx, purgeTestSchema); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Transact(ctx, fmt.Sprintf(`[{:u/email "ann@x" :u/name %q}]`, secretName)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	st := openStore(t, url)
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := branch.Create(ctx, st, "fork", h.Addr); err != nil {
		t.Fatal(err)
	}
	purge := `[[:db.purge/entity [:u/email "ann@x"]]]`
	if _, err := Purge(ctx, st, purge, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := GC(ctx, st, GCOptions{Now: later}); err != nil {
		t.Fatal(err)
	}
	objs := bucketObjects(t, url, "")
	if len(objectsWith(objs, secretName)) == 0 {
		t.Fatal("the fork's nodes were collected: the fork lost its data")
	}
	fork, err := reader.OpenStore(ctx, st, &reader.Options{Branch: "fork"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := snapshot(ctx, fork); !strings.Contains(s, secretName) {
		t.Fatal("the fork does not answer with its datoms")
	}
	if _, err := Purge(ctx, st, purge, &PurgeOptions{Branch: "fork"}); err != nil {
		t.Fatal(err)
	}
	if _, err := GC(ctx, st, GCOptions{Now: func() time.Time { return later().Add(time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	if keys := objectsWith(bucketObjects(t, url, ""), secretName); len(keys) > 0 {
		t.Errorf("value still in %v after purging both branches and GC", keys)
	}
}
