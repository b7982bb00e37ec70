package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/ops"
	"github.com/accretedb/accrete/reader"
)

var diffCmd = &command{
	name:     "diff",
	synopsis: "URL1 URL2 [--stats] [--json]",
	summary:  "print the datoms added and retracted from one database value to another",
	help: `URL1 and URL2 name two database values: two points in time of one branch
(file:///data/people?as-of=12), two branches (?branch=feature) or two buckets.
as-of takes a t, a transaction id or an RFC 3339 instant, and must name a
commit: a t inside a group commit (one commit holding several transactions)
cannot be compared. since and history views cannot be compared.

Prints a vector, in EAVT order, of [:db/add e :attr v tx] for each current
datom of URL2 that URL1 lacks and [:db/retract e :attr v tx] for each current
datom of URL1 that URL2 lacks (attributes as ident keywords). The cost is the
difference, not the size: subtrees both values share are skipped.

With --stats, prints {:nodes-visited N :subtrees-skipped N :overlay-datoms N
:added N :retracted N} instead of the datoms.`,
	run: runDiff,
}

func runDiff(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	stats := fs.Bool("stats", false, "print the cost and counts of the diff instead of the datoms")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	pos, err := c.parse(e, fs, args, 2, 2)
	if err != nil {
		return err
	}
	var refs [2]dbRef
	for i := range refs {
		if refs[i], err = parseDBRef(pos[i], ""); err != nil {
			return err
		}
		if refs[i].since != "" || refs[i].history {
			return fmt.Errorf("accrete diff: %s: diff compares current values (remove since, history; as-of is fine)", refs[i].raw)
		}
	}
	var dbs [2]*reader.DB
	for i, ref := range refs {
		db, st, err := openCommitted(ctx, ref)
		if err != nil {
			return fmt.Errorf("accrete diff: %w", err)
		}
		defer st.Close()
		dbs[i] = db
	}
	a, b := dbs[0], dbs[1]
	if *stats {
		ds, err := ops.Diff(ctx, a, b, func(datom.Datom, bool) bool { return true })
		if err != nil {
			return fmt.Errorf("accrete diff: %w", err)
		}
		kw := func(s string) edn.Keyword { return edn.Keyword(s) }
		return emit(e.stdout, edn.Map{
			{Key: kw("nodes-visited"), Val: int64(ds.NodesVisited)},
			{Key: kw("subtrees-skipped"), Val: int64(ds.SubtreesSkipped)},
			{Key: kw("overlay-datoms"), Val: int64(ds.OverlayDatoms)},
			{Key: kw("added"), Val: int64(ds.Added)},
			{Key: kw("retracted"), Val: int64(ds.Retracted)},
		}, *asJSON)
	}
	sa, sb := a.Schema(), b.Schema()
	add, retract := edn.Keyword("db/add"), edn.Keyword("db/retract")
	return streamVector(e.stdout, *asJSON, func(put func(any) error) error {
		var perr error
		_, err := ops.Diff(ctx, a, b, func(d datom.Datom, added bool) bool {
			op, s := retract, sa
			if added {
				op, s = add, sb
			}
			perr = put(edn.Vector{op, d.E, attrName(s, d.A), d.V, d.Tx})
			return perr == nil
		})
		if perr != nil {
			return perr
		}
		if err != nil {
			return fmt.Errorf("accrete diff: %w", err)
		}
		return nil
	})
}

// openCommitted opens the value ref names as a current value: the branch
// head, or with as-of the commit whose basis t is the as-of t (ops.Diff
// compares stored trees, which an as-of view does not have). The caller
// closes the returned store.
func openCommitted(ctx context.Context, ref dbRef) (*reader.DB, *konserve.Store, error) {
	asOf := ref.asOf
	ref.asOf = ""
	db, st, err := openDB(ctx, ref)
	if err != nil || asOf == "" {
		return db, st, err
	}
	t, tm, err := parsePoint(asOf)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("as-of: %w", err)
	}
	if tm.IsZero() {
		t, _ = db.AsOf(t).AsOfT()
	} else {
		v, err := db.AsOfTime(ctx, tm)
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("as-of %s: %w", asOf, err)
		}
		t, _ = v.AsOfT()
		if t < 0 {
			st.Close()
			return nil, nil, fmt.Errorf("%s: as-of %s is before the database was created", ref, asOf)
		}
	}
	if t >= db.BasisT() {
		return db, st, nil
	}
	addr, basisT, err := commitAt(ctx, st, ref.branch, t)
	if err != nil {
		st.Close()
		if errors.Is(err, konserve.ErrNodeMissing) {
			return nil, nil, fmt.Errorf("%s: as-of %s: the commit at t %d is no longer stored (collected by gc): %w", ref, asOf, t, err)
		}
		return nil, nil, fmt.Errorf("%s: as-of %s: %w", ref, asOf, err)
	}
	if basisT != t {
		st.Close()
		return nil, nil, fmt.Errorf("%s: as-of %s (t %d) falls inside a group commit that ends at a later t; the nearest earlier commit is at t %d",
			ref, asOf, t, basisT)
	}
	cdb, err := reader.FromCommit(ctx, st, addr, 0)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: as-of %s: %w", ref, asOf, err)
	}
	return cdb, st, nil
}
