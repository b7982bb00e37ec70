package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/reader"
)

// ErrDiffView is returned by Diff for a database value restricted by AsOf or
// Since, or viewed as history: Diff compares the current datoms of two
// values, which such views do not hold in a tree of their own. Compare
// values opened at the commits of interest (reader.FromCommit) instead.
var ErrDiffView = errors.New("ops: diff needs current (not as-of, since or history) values")

// DiffStats says what a Diff did. NodesVisited is its cost: it grows with
// the difference between the values, not with their size.
type DiffStats struct {
	// NodesVisited counts distinct stored index nodes Diff loaded, both
	// values together (a node both values share counts once).
	NodesVisited int
	// SubtreesSkipped counts pairs of subtrees skipped because both values
	// name the same address.
	SubtreesSkipped int
	// OverlayDatoms counts the datoms of both values' log-tail overlays
	// that Diff merged in.
	OverlayDatoms int
	// Added and Retracted count the datoms reported with added true (in b,
	// not in a) and false (in a, not in b).
	Added, Retracted int
}

// errStop ends a walk early when the caller's function returns false.
var errStop = errors.New("ops: diff stopped")

// Diff calls fn, in EAVT order, for every current datom of b that a lacks
// (added true) and every current datom of a that b lacks (added false),
// until fn returns false. Datoms are compared whole (entity, attribute,
// value and transaction), as a set difference of the two values' EAVT
// scans.
//
// Cost: Diff walks the two stored EAVT trees together and skips every pair
// of subtrees whose addresses are equal (D1: an address names immutable
// bytes, so equal addresses mean equal subtrees), descending only where they
// differ; then it merges in the values' log-tail overlays, looking up each
// overlay datom the walk did not meet (a root-to-leaf path, mostly cached).
// So the nodes it loads grow with the difference and the overlays, not the
// database: about 2·depth per changed leaf region on each side.
//
// a and b may be any two current values: two points in time of one branch,
// two branches, or two buckets (each value reads through its own store).
// Values derived by With are fine: their novelty lives in the overlay. Diff
// reads both values concurrently with anything else; fn is called from the
// calling goroutine and must not retain the datom's V if it may be mutated
// (values are shared with the node cache: treat them as read-only).
func Diff(ctx context.Context, a, b *reader.DB, fn func(d datom.Datom, added bool) bool) (DiffStats, error) {
	var st DiffStats
	if a == nil || b == nil {
		return st, fmt.Errorf("ops: diff: %w: nil database value", ErrDiffView)
	}
	for _, db := range []*reader.DB{a, b} {
		_, asOf := db.AsOfT()
		_, since := db.SinceT()
		if asOf || since || db.IsHistory() {
			return st, fmt.Errorf("ops: diff: %w", ErrDiffView)
		}
	}
	d, err := newDiffer(ctx, a, b, fn)
	if err != nil {
		return st, err
	}
	err = d.run(ctx)
	st = d.st
	if errors.Is(err, errStop) {
		err = nil
	}
	return st, err
}

// differ holds one Diff's state: both sides' trees and overlays and the
// addresses visited so far.
type differ struct {
	a, b     *reader.DB
	rootA    konserve.Hash
	rootB    konserve.Hash
	fn       func(datom.Datom, bool) bool
	seen     map[konserve.Hash]struct{}
	st       DiffStats
	cmp      func(x, y datom.Datom) int
	addsA    []datom.Datom
	delsA    []datom.Datom
	addsB    []datom.Datom
	delsB    []datom.Datom
	ovKeys   []datom.Datom // sorted union of the four overlay lists
	ovNext   int           // first overlay key not yet resolved
	lookupDB *reader.DB    // the side whose tree answers lookups
	lookupRt konserve.Hash
}

func newDiffer(ctx context.Context, a, b *reader.DB, fn func(datom.Datom, bool) bool) (*differ, error) {
	d := &differ{a: a, b: b, fn: fn, seen: map[konserve.Hash]struct{}{}, cmp: datom.CompareEAVT}
	var err error
	if d.rootA, err = a.StoredRoot(datom.EAVT); err != nil {
		return nil, fmt.Errorf("ops: diff: %w", err)
	}
	if d.rootB, err = b.StoredRoot(datom.EAVT); err != nil {
		return nil, fmt.Errorf("ops: diff: %w", err)
	}
	if d.addsA, d.delsA, err = a.Overlay(ctx, datom.EAVT); err != nil {
		return nil, fmt.Errorf("ops: diff: %w", err)
	}
	if d.addsB, d.delsB, err = b.Overlay(ctx, datom.EAVT); err != nil {
		return nil, fmt.Errorf("ops: diff: %w", err)
	}
	keys := make([]datom.Datom, 0, len(d.addsA)+len(d.delsA)+len(d.addsB)+len(d.delsB))
	for _, l := range [][]datom.Datom{d.addsA, d.delsA, d.addsB, d.delsB} {
		keys = append(keys, l...)
	}
	d.st.OverlayDatoms = len(keys)
	slices.SortFunc(keys, d.cmp)
	d.ovKeys = slices.CompactFunc(keys, func(x, y datom.Datom) bool { return d.cmp(x, y) == 0 })
	d.lookupDB, d.lookupRt = a, d.rootA
	return d, nil
}

// load returns stored node h through db's store (and its cache), counting
// each address once. Diff keeps no node itself, so a large diff holds only
// the cursors' paths and 32 bytes per visited address.
func (d *differ) load(ctx context.Context, db *reader.DB, h konserve.Hash) (*node.Node[datom.Datom], error) {
	n, err := db.LoadIndexNode(ctx, datom.EAVT, h)
	if err != nil {
		return nil, fmt.Errorf("ops: diff: %w", err)
	}
	if _, ok := d.seen[h]; !ok {
		d.seen[h] = struct{}{}
		d.st.NodesVisited++
	}
	return n, nil
}

// cursor walks one stored tree in key order one element at a time, where an
// element is either a datom of a leaf or a whole child subtree of a branch
// node; expand replaces a subtree element by its own elements.
type cursor struct {
	db    *reader.DB
	stack []frame
}

type frame struct {
	n *node.Node[datom.Datom]
	i int
}

func (c *cursor) valid() bool { return len(c.stack) > 0 }

// level is the level of the current element's subtree, or -1 for a datom.
func (c *cursor) level() int { return c.stack[len(c.stack)-1].n.Level - 1 }

func (c *cursor) addr() konserve.Hash {
	f := c.stack[len(c.stack)-1]
	return konserve.Hash(f.n.Children[f.i])
}

func (c *cursor) datom() datom.Datom {
	f := c.stack[len(c.stack)-1]
	return f.n.Keys[f.i]
}

// advance moves past the current element (a datom or a whole subtree).
func (c *cursor) advance() {
	c.stack[len(c.stack)-1].i++
	c.settle()
}

// settle pops exhausted frames, advancing each parent past the child it
// finished.
func (c *cursor) settle() {
	for len(c.stack) > 0 {
		top := &c.stack[len(c.stack)-1]
		if top.i < len(top.n.Keys) {
			return
		}
		c.stack = c.stack[:len(c.stack)-1]
		if len(c.stack) > 0 {
			c.stack[len(c.stack)-1].i++
		}
	}
}

// push makes n the innermost frame (the root, or an expanded subtree).
func (c *cursor) push(n *node.Node[datom.Datom]) {
	c.stack = append(c.stack, frame{n: n})
	c.settle()
}

func (d *differ) expand(ctx context.Context, c *cursor) error {
	n, err := d.load(ctx, c.db, c.addr())
	if err != nil {
		return err
	}
	c.push(n)
	return nil
}

func (d *differ) open(ctx context.Context, db *reader.DB, root konserve.Hash) (*cursor, error) {
	c := &cursor{db: db}
	if root.IsZero() {
		return c, nil
	}
	n, err := d.load(ctx, db, root)
	if err != nil {
		return nil, err
	}
	c.push(n)
	return c, nil
}

func (d *differ) run(ctx context.Context) error {
	if d.rootA != d.rootB {
		if err := d.walk(ctx); err != nil {
			return err
		}
	} else if !d.rootA.IsZero() {
		d.st.SubtreesSkipped++
	}
	// Overlay datoms after the last stored difference.
	return d.flushOverlay(ctx, nil)
}

// walk merges the two stored trees, reporting datoms in one and not the
// other to tree, and skipping equal subtrees.
func (d *differ) walk(ctx context.Context) error {
	ca, err := d.open(ctx, d.a, d.rootA)
	if err != nil {
		return err
	}
	cb, err := d.open(ctx, d.b, d.rootB)
	if err != nil {
		return err
	}
	for steps := 0; ca.valid() || cb.valid(); steps++ {
		if steps&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch {
		case !cb.valid() || !ca.valid():
			c, inA := ca, true
			if !ca.valid() {
				c, inA = cb, false
			}
			if c.level() >= 0 {
				err = d.expand(ctx, c)
			} else {
				err = d.tree(ctx, c.datom(), inA, !inA)
				c.advance()
			}
		default:
			la, lb := ca.level(), cb.level()
			switch {
			case la >= 0 && lb >= 0 && ca.addr() == cb.addr():
				d.st.SubtreesSkipped++
				ca.advance()
				cb.advance()
			case la > lb:
				err = d.expand(ctx, ca)
			case lb > la:
				err = d.expand(ctx, cb)
			case la >= 0:
				if err = d.expand(ctx, ca); err == nil {
					err = d.expand(ctx, cb)
				}
			default:
				x, y := ca.datom(), cb.datom()
				switch c := d.cmp(x, y); {
				case c < 0:
					err = d.tree(ctx, x, true, false)
					ca.advance()
				case c > 0:
					err = d.tree(ctx, y, false, true)
					cb.advance()
				default:
					ca.advance()
					cb.advance()
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// tree handles datom x, which is in stored tree a iff inA and in stored
// tree b iff inB (and inA != inB): first the overlay datoms before it, then
// x itself with the overlays applied.
func (d *differ) tree(ctx context.Context, x datom.Datom, inA, inB bool) error {
	if err := d.flushOverlay(ctx, &x); err != nil {
		return err
	}
	if d.ovNext < len(d.ovKeys) && d.cmp(d.ovKeys[d.ovNext], x) == 0 {
		d.ovNext++
	}
	return d.resolve(x, inA, inB)
}

// flushOverlay resolves every overlay datom before *upTo (all of them when
// upTo is nil). The stored walk did not meet them, so both stored trees
// agree on them: one lookup in tree a says whether they are stored.
func (d *differ) flushOverlay(ctx context.Context, upTo *datom.Datom) error {
	for d.ovNext < len(d.ovKeys) {
		k := d.ovKeys[d.ovNext]
		if upTo != nil && d.cmp(k, *upTo) >= 0 {
			return nil
		}
		d.ovNext++
		if !d.dependsOnStore(k) {
			// The overlays alone decide: the values agree whether k
			// is stored or not, or disagree the same way in both
			// cases (worked through in dependsOnStore's tests).
			if err := d.resolve(k, false, false); err != nil {
				return err
			}
			continue
		}
		stored, err := d.lookup(ctx, k)
		if err != nil {
			return err
		}
		if err := d.resolve(k, stored, stored); err != nil {
			return err
		}
	}
	return nil
}

// lookup reports whether k is in stored tree a, following one path.
func (d *differ) lookup(ctx context.Context, k datom.Datom) (bool, error) {
	if d.lookupRt.IsZero() {
		return false, nil
	}
	n, err := d.load(ctx, d.lookupDB, d.lookupRt)
	if err != nil {
		return false, err
	}
	for {
		i, found := slices.BinarySearchFunc(n.Keys, k, d.cmp)
		if n.Level == 0 {
			return found, nil
		}
		if i == len(n.Keys) {
			return false, nil
		}
		if n, err = d.load(ctx, d.lookupDB, konserve.Hash(n.Children[i])); err != nil {
			return false, err
		}
	}
}

// dependsOnStore reports whether the values' membership of k, which both
// stored trees agree on, differs between the cases "stored" and "not
// stored"; if not, no lookup is needed.
func (d *differ) dependsOnStore(k datom.Datom) bool {
	addA, addB := has(d.addsA, k), has(d.addsB, k)
	delA, delB := has(d.delsA, k), has(d.delsB, k)
	// Not stored: the values hold k iff their overlay adds it. Stored: iff
	// their overlay adds it or does not delete it.
	agreeAbsent := addA == addB
	agreeStored := (addA || !delA) == (addB || !delB)
	return agreeAbsent != agreeStored
}

func has(l []datom.Datom, k datom.Datom) bool {
	_, ok := slices.BinarySearchFunc(l, k, datom.CompareEAVT)
	return ok
}

// resolve applies both overlays to a datom whose stored membership is known
// and reports it if the values disagree.
func (d *differ) resolve(k datom.Datom, inA, inB bool) error {
	va := (inA && !has(d.delsA, k)) || has(d.addsA, k)
	vb := (inB && !has(d.delsB, k)) || has(d.addsB, k)
	if va == vb {
		return nil
	}
	if vb {
		d.st.Added++
	} else {
		d.st.Retracted++
	}
	if !d.fn(k, vb) {
		return errStop
	}
	return nil
}
