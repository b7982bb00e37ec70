package reader_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

// Review tests: two transaction chains forked from the SAME value (With on
// db0 twice, then further Withs on each) must not see each other's datoms in
// any index, current or history, whether the base is still a lazy chain or
// built, whether the forks grow one after the other, interleaved, or from
// several goroutines at once, and for small and large (folded) batches. The
// lazy overlay (package pss, extend) shares a buffer of batch references
// between links and claims slots by compare-and-swap: a wrong claim would
// show a sibling's datoms here.

func forkKey(d datom.Datom) string {
	return fmt.Sprintf("%d %d %#v %d %v", d.E, d.A, d.V, d.Tx, d.Added)
}

// forkTx is a transaction of size new entities of the fork tag, step i, each
// with a name and two aliases (cardinality many) naming the fork.
func forkTx(tag string, step, size int) edn.Vector {
	tx := make(edn.Vector, 0, size)
	for j := 0; j < size; j++ {
		id := fmt.Sprintf("%s-%d-%d", tag, step, j)
		tx = append(tx, edn.Map{
			{Key: edn.Keyword("db/id"), Val: id},
			{Key: edn.Keyword("name"), Val: id},
			{Key: edn.Keyword("alias"), Val: edn.Vector{tag + "-x-" + id, tag + "-y-" + id}},
		})
	}
	return tx
}

// forkChain is a chain of With calls and the datoms its transactions added.
type forkChain struct {
	db    *reader.DB
	added map[string]datom.Datom
	reps  []*reader.Report
	snaps [][]string // TxData of each report as first seen
}

func newForkChain(db *reader.DB, added map[string]datom.Datom) *forkChain {
	c := &forkChain{db: db, added: make(map[string]datom.Datom, len(added))}
	for k, d := range added {
		c.added[k] = d
	}
	return c
}

func (c *forkChain) with(ctx context.Context, data edn.Vector) error {
	rep, err := c.db.With(ctx, data, nil)
	if err != nil {
		return err
	}
	// The transaction's own datoms: every string value names a tempid of
	// data (concurrent transactions recycle tx state through a pool), and
	// every tempid resolved to the entity whose name is that tempid.
	want := map[string]bool{}
	for _, f := range data {
		if m, ok := f.(edn.Map); ok {
			for _, e := range m {
				if e.Key == edn.Keyword("db/id") {
					want[e.Val.(string)] = true
				}
			}
		}
	}
	names := map[string]datom.ID{}
	for _, d := range rep.TxData {
		s, ok := d.V.(string)
		if !ok {
			continue
		}
		id := s
		if i := strings.Index(s, "-x-"); i >= 0 {
			id = s[i+3:]
		} else if i := strings.Index(s, "-y-"); i >= 0 {
			id = s[i+3:]
		} else {
			names[s] = d.E
		}
		if !want[id] {
			return fmt.Errorf("tx of %d forms: datom %s names no tempid of the transaction", len(data), forkKey(d))
		}
	}
	for id := range want {
		if e, ok := rep.TempIDs.Lookup(id); !ok || names[id] != e {
			return fmt.Errorf("tempid %s resolved to %d, its name is on %d", id, e, names[id])
		}
	}
	snap := make([]string, len(rep.TxData))
	for i, d := range rep.TxData {
		c.added[forkKey(d)] = d
		snap[i] = forkKey(d)
	}
	c.reps = append(c.reps, rep)
	c.snaps = append(c.snaps, snap)
	c.db = rep.DBAfter
	return nil
}

// check compares every index of c.db (current and history) with the datoms
// its chain added (only additions of new entities: the current value holds
// them all), and that the reports' TxData did not change since returned.
func (c *forkChain) check(ctx context.Context, name string) error {
	for i, rep := range c.reps {
		if len(rep.TxData) != len(c.snaps[i]) {
			return fmt.Errorf("%s: report %d TxData length changed %d -> %d", name, i, len(c.snaps[i]), len(rep.TxData))
		}
		for j, d := range rep.TxData {
			if forkKey(d) != c.snaps[i][j] {
				return fmt.Errorf("%s: report %d TxData[%d] changed: %s -> %s", name, i, j, c.snaps[i][j], forkKey(d))
			}
		}
	}
	for _, v := range []*reader.DB{c.db, c.db.History()} {
		for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
			seen := map[string]bool{}
			var bad error
			err := v.Datoms(ctx, idx, nil, func(d datom.Datom) bool {
				k := forkKey(d)
				if _, ok := c.added[k]; !ok {
					bad = fmt.Errorf("%s: %v: foreign datom %s", name, idx, k)
					return false
				}
				if seen[k] {
					bad = fmt.Errorf("%s: %v: datom twice %s", name, idx, k)
					return false
				}
				seen[k] = true
				return true
			})
			if err != nil {
				return fmt.Errorf("%s: %v: %w", name, idx, err)
			}
			if bad != nil {
				return bad
			}
			if idx == datom.EAVT || idx == datom.AEVT {
				if len(seen) != len(c.added) {
					for k := range c.added {
						if !seen[k] {
							return fmt.Errorf("%s: %v: %d datoms, want %d; missing %s", name, idx, len(seen), len(c.added), k)
						}
					}
				}
			}
		}
	}
	return nil
}

// forkBase is a schema-on-read value grown by baseSteps small Withs, left
// lazy (never read) unless force.
func forkBase(t *testing.T, baseSteps int, force bool) *forkChain {
	t.Helper()
	ctx := context.Background()
	db, err := reader.NewEmpty(ctx, nil, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := newForkChain(db, nil)
	// the empty value's own datoms (the built-in attributes)
	for _, v := range []*reader.DB{db, db.History()} {
		if err := v.Datoms(ctx, datom.EAVT, nil, func(d datom.Datom) bool {
			c.added[forkKey(d)] = d
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := reader.TxForms(withSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.with(ctx, edn.Vector(sch)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < baseSteps; i++ {
		if err := c.with(ctx, forkTx("base", i, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if force {
		if err := c.check(ctx, "base"); err != nil {
			t.Fatal(err)
		}
	}
	c.reps, c.snaps = nil, nil
	return c
}

type forkCase struct {
	baseSteps, steps, size int
	force                  bool
}

func forkCases() []forkCase {
	var cs []forkCase
	for _, bs := range []int{0, 1, 5, 40} {
		for _, f := range []bool{false, true} {
			cs = append(cs, forkCase{bs, 1, 1, f}, forkCase{bs, 12, 1, f}, forkCase{bs, 30, 3, f})
			if bs == 0 || bs == 5 {
				cs = append(cs, forkCase{bs, 2, 1500, f}) // 4500+ datoms per tx: the folded path
			}
		}
	}
	return cs
}

func TestReviewWithForkSequential(t *testing.T) {
	ctx := context.Background()
	for _, fc := range forkCases() {
		for _, order := range []string{"a-then-b", "interleaved", "b-reads-first"} {
			name := fmt.Sprintf("base%d-force%v-%dx%d-%s", fc.baseSteps, fc.force, fc.steps, fc.size, order)
			t.Run(name, func(t *testing.T) {
				base := forkBase(t, fc.baseSteps, fc.force)
				a := newForkChain(base.db, base.added)
				b := newForkChain(base.db, base.added)
				switch order {
				case "a-then-b", "b-reads-first":
					for i := 0; i < fc.steps; i++ {
						if err := a.with(ctx, forkTx("A", i, fc.size)); err != nil {
							t.Fatal(err)
						}
					}
					if order == "b-reads-first" {
						// the base is read after a's chain grew from it
						if err := newForkChain(base.db, base.added).check(ctx, "base"); err != nil {
							t.Fatal(err)
						}
					}
					for i := 0; i < fc.steps; i++ {
						if err := b.with(ctx, forkTx("B", i, fc.size)); err != nil {
							t.Fatal(err)
						}
					}
				case "interleaved":
					for i := 0; i < fc.steps; i++ {
						if err := a.with(ctx, forkTx("A", i, fc.size)); err != nil {
							t.Fatal(err)
						}
						if err := b.with(ctx, forkTx("B", i, fc.size)); err != nil {
							t.Fatal(err)
						}
					}
				}
				// forks of intermediate values: a's first value extended again
				var a2 *forkChain
				if len(a.reps) > 1 {
					mid := a.reps[0]
					a2 = newForkChain(mid.DBAfter, base.added)
					for _, d := range mid.TxData {
						a2.added[forkKey(d)] = d
					}
					if err := a2.with(ctx, forkTx("C", 0, fc.size)); err != nil {
						t.Fatal(err)
					}
				}
				if err := b.check(ctx, "b"); err != nil {
					t.Fatal(err)
				}
				if err := a.check(ctx, "a"); err != nil {
					t.Fatal(err)
				}
				if a2 != nil {
					if err := a2.check(ctx, "a2"); err != nil {
						t.Fatal(err)
					}
				}
				if err := newForkChain(base.db, base.added).check(ctx, "base after"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestReviewWithForkConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, fc := range forkCases() {
		if fc.size > 100 && testing.Short() {
			continue
		}
		name := fmt.Sprintf("base%d-force%v-%dx%d", fc.baseSteps, fc.force, fc.steps, fc.size)
		t.Run(name, func(t *testing.T) {
			base := forkBase(t, fc.baseSteps, fc.force)
			const g = 4
			errs := make(chan error, g+1)
			var wg sync.WaitGroup
			for w := 0; w < g; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					c := newForkChain(base.db, base.added)
					tag := fmt.Sprintf("G%d", w)
					for i := 0; i < fc.steps; i++ {
						if err := c.with(ctx, forkTx(tag, i, fc.size)); err != nil {
							errs <- err
							return
						}
					}
					errs <- c.check(ctx, tag)
				}(w)
			}
			// Readers of the base itself (forcing its lazy sets, reading
			// entities as kept leaf views) while the forks extend it.
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 2 {
					if err := newForkChain(base.db, base.added).check(ctx, "base"); err != nil {
						errs <- err
						return
					}
					var ids []datom.ID
					if err := base.db.Datoms(ctx, datom.EAVT, nil, func(d datom.Datom) bool {
						if len(ids) == 0 || ids[len(ids)-1] != d.E {
							ids = append(ids, d.E)
						}
						return true
					}); err != nil {
						errs <- err
						return
					}
					n := 0
					var kept [][]datom.Datom
					if err := base.db.EntityDatoms(ctx, ids, true, func(k int, ds, more []datom.Datom) error {
						for _, d := range append(append([]datom.Datom(nil), ds...), more...) {
							if _, ok := base.added[forkKey(d)]; !ok || d.E != ids[k] {
								return fmt.Errorf("entity %d: foreign datom %s", ids[k], forkKey(d))
							}
							n++
						}
						kept = append(kept, ds, more)
						return nil
					}); err != nil {
						errs <- err
						return
					}
					if n != len(base.added) {
						errs <- fmt.Errorf("base entities: %d datoms, want %d", n, len(base.added))
						return
					}
					for _, ds := range kept {
						for _, d := range ds {
							if _, ok := base.added[forkKey(d)]; !ok {
								errs <- fmt.Errorf("kept entity view changed: %s", forkKey(d))
								return
							}
						}
					}
				}
			}()
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}
