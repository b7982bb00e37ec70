package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
)

// Merge sentinels.
var (
	// ErrMergeConflict is returned by Merge when both branches changed a
	// cardinality-one or unique attribute of one entity to different
	// values, or the source asserts a unique value another entity holds on
	// the target. The MergeReport lists the conflicts; nothing was written.
	ErrMergeConflict = errors.New("ops: merge conflict")
	// ErrNoAncestor is returned by Merge when the two branches share no
	// commit (different databases, or history collected by GC).
	ErrNoAncestor = errors.New("ops: branches have no common ancestor")
	// ErrMergeReplay is returned by Merge when a source transaction fails
	// on the target for a reason the conflict checks did not foresee (a
	// schema constraint, a retracted referent). Nothing was written.
	ErrMergeReplay = errors.New("ops: merge replay failed")
)

// MergeOptions configure Merge. The zero value (or nil) means defaults.
type MergeOptions struct {
	// DryRun finds the ancestor, checks for conflicts and replays the
	// transactions in memory, but writes nothing.
	DryRun bool
	// Width is the node width of index trees rebuilt when the target's
	// log tail is merged (0: pss.DefaultWidth).
	Width int
	// TailBytes is the target's log tail size past which the merge commit
	// merges the tail into the trees (0: reader.DefaultTailBytes).
	TailBytes int64
	// MaxRetries bounds how often Merge starts over after another writer
	// moved the target head during the merge (0: 8).
	MaxRetries int
	// Now is the clock for the :db/txInstant of replayed transactions
	// (nil: time.Now).
	Now func() time.Time
}

// ConflictKind says why a change cannot be merged.
type ConflictKind uint8

const (
	// ConflictChanged: both branches changed a cardinality-one or unique
	// attribute of a shared entity since the ancestor, to different values.
	ConflictChanged ConflictKind = iota + 1
	// ConflictUniqueTaken: the source asserts a unique value that another
	// entity holds on the target.
	ConflictUniqueTaken
)

// String implements fmt.Stringer.
func (k ConflictKind) String() string {
	switch k {
	case ConflictChanged:
		return "changed on both sides"
	case ConflictUniqueTaken:
		return "unique value taken"
	}
	return "ConflictKind(" + strconv.Itoa(int(k)) + ")"
}

// Conflict is one change Merge refused to choose a side for.
type Conflict struct {
	Kind ConflictKind
	// E is the entity as the source knows it (for a shared entity, the
	// same id on the target); A the attribute's ident.
	E datom.ID
	A edn.Keyword
	// Base, Source and Target are the attribute's values on E at the
	// ancestor and at both heads (ConflictChanged), sorted.
	Base, Source, Target []any
	// Value and Holder are the unique value and the target entity holding
	// it (ConflictUniqueTaken).
	Value  any
	Holder datom.ID
}

// String describes the conflict for operators.
func (c Conflict) String() string {
	if c.Kind == ConflictUniqueTaken {
		return fmt.Sprintf("%s: source entity %d asserts %s %v, held by %d on the target", c.Kind, c.E, c.A, c.Value, c.Holder)
	}
	return fmt.Sprintf("%s: %d %s was %v, source %v, target %v", c.Kind, c.E, c.A, c.Base, c.Source, c.Target)
}

// MergeReport says what Merge did or would do.
type MergeReport struct {
	From, Into string
	// Ancestor is the newest commit of the source branch that the target
	// contains (a fork point, or the source head of a previous merge);
	// AncestorT its basis t.
	Ancestor  konserve.Hash
	AncestorT int64
	// Transactions counts the source transactions replayed (or that would
	// be); Datoms the datoms they asserted and retracted on the target.
	Transactions int
	Datoms       int
	// Entities maps each entity the source created since the ancestor to
	// the entity it became on the target.
	Entities map[datom.ID]datom.ID
	// Conflicts lists what prevented the merge; empty on success.
	Conflicts []Conflict
	// Head is the target's new head, nil if nothing was written (dry run,
	// conflict, or nothing to merge).
	Head *branch.Head
}

// Merge merges branch from into branch into of st: it finds the newest
// commit of from that into contains (walking Parents), and replays from's
// transactions since then as new transactions on into, in order, keeping
// their metadata except :db/txInstant (the target assigns one, monotonic).
//
// Translation (M1): each source datom becomes [:db/add e a v] or
// [:db/retract e a v] with a as its ident. Entities the source created since
// the ancestor (ids the ancestor had not allocated) become tempids, so they
// get fresh ids on the target and never collide with entities the target
// created meanwhile; later transactions use the id the tempid resolved to.
// The source transaction entity becomes "datomic.tx". Composite tuple datoms
// are left out: the target derives them.
//
// Conflicts (M2) are reported, not resolved: a cardinality-one or unique
// attribute of a shared entity whose values differ at both heads from the
// ancestor's and from each other, and a unique value the source asserts
// that another entity holds on the target. On any conflict, or if a
// replayed transaction fails, Merge writes nothing and returns the report
// with an error wrapping ErrMergeConflict or ErrMergeReplay.
//
// Atomicity (M3): every replayed transaction is applied in memory and the
// lot is published as ONE commit on into, whose Parents are into's head and
// from's head. The second parent makes from's head the ancestor of the next
// merge, so transactions are never replayed twice. If another writer moves
// into's head meanwhile, Merge starts over (MaxRetries). Merge does not go
// through a writer.Writer for this reason: a Writer commits each
// transaction on its own, so a failure half-way would leave half a merge.
//
// Repeated merges (M4): an entity the source created after it forked but
// before an earlier merge got a fresh id on the target then. Later source
// transactions name it by a lookup ref on a :db.unique/identity value it had
// at the ancestor (:db/ident for attributes); an entity without one fails
// the merge with ErrMergeReplay. Known limit: merges in both directions
// (into merged into from as well) are not translated this way: entities the
// target created reach the source under other ids.
func Merge(ctx context.Context, st *konserve.Store, from, into string, opts *MergeOptions) (MergeReport, error) {
	rep := MergeReport{From: from, Into: into}
	var o MergeOptions
	if opts != nil {
		o = *opts
	}
	if o.TailBytes < 0 || o.MaxRetries < 0 {
		return rep, fmt.Errorf("ops: merge: %w: negative TailBytes or MaxRetries", ErrInvalidOptions)
	}
	if err := (&reader.Options{Width: o.Width}).Validate(); err != nil {
		return rep, fmt.Errorf("ops: merge: %w: %w", ErrInvalidOptions, err)
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if from == into {
		return rep, fmt.Errorf("ops: merge %q into itself: %w", from, ErrInvalidOptions)
	}
	for attempt := 0; ; attempt++ {
		r, err := mergeOnce(ctx, st, from, into, &o)
		if err == nil || !errors.Is(err, branch.ErrConflict) || attempt >= o.MaxRetries {
			return r, err
		}
	}
}

func mergeOnce(ctx context.Context, st *konserve.Store, from, into string, o *MergeOptions) (MergeReport, error) {
	rep := MergeReport{From: from, Into: into}
	hFrom, err := branch.Read(ctx, st, from)
	if err != nil {
		return rep, fmt.Errorf("ops: merge: %w", err)
	}
	hInto, err := branch.Read(ctx, st, into)
	if err != nil {
		return rep, fmt.Errorf("ops: merge: %w", err)
	}
	ancAddr, anc, err := commonAncestor(ctx, st, hInto.Addr, hFrom.Addr)
	if errors.Is(err, ErrNoAncestor) {
		return rep, fmt.Errorf("ops: merge %q into %q: %w", from, into, err)
	}
	if err != nil {
		return rep, err
	}
	rep.Ancestor, rep.AncestorT = ancAddr, anc.BasisT
	if ancAddr == hFrom.Addr {
		return rep, nil // into already contains from
	}
	src, err := reader.FromHead(ctx, st, hFrom, o.Width)
	if err != nil {
		return rep, fmt.Errorf("ops: merge: open %q: %w", from, err)
	}
	tgt, err := reader.FromHead(ctx, st, hInto, o.Width)
	if err != nil {
		return rep, fmt.Errorf("ops: merge: open %q: %w", into, err)
	}
	base, err := reader.FromCommit(ctx, st, ancAddr, o.Width)
	if err != nil {
		return rep, fmt.Errorf("ops: merge: open ancestor: %w", err)
	}
	var txs []reader.TxInfo
	if err := src.TxRange(ctx, anc.BasisT+1, 0, func(ti reader.TxInfo) bool {
		txs = append(txs, ti)
		return true
	}); err != nil {
		return rep, fmt.Errorf("ops: merge: read log of %q: %w", from, err)
	}
	fork, err := forkPoint(ctx, st, hInto.Addr, hFrom.Addr)
	if err != nil {
		return rep, err
	}
	if fork == nil {
		fork = anc
	}
	m := &merger{anc: anc, fork: fork, src: src, tgt: tgt, base: base,
		txMap: map[datom.ID]datom.ID{}, ents: map[datom.ID]datom.ID{}, cps: map[datom.ID]counterpart{}}
	if rep.Conflicts, err = m.conflicts(ctx, txs); err != nil {
		return rep, err
	}
	if len(rep.Conflicts) > 0 {
		return rep, fmt.Errorf("ops: merge %q into %q: %w (%d)", from, into, ErrMergeConflict, len(rep.Conflicts))
	}
	db := tgt
	var ts []int64
	now := o.Now()
	for _, ti := range txs {
		forms, err := m.forms(ctx, ti)
		if err != nil {
			return rep, err
		}
		if len(forms) == 0 {
			continue
		}
		r, err := db.Transact(ctx, forms, &reader.TxOptions{Now: now})
		if err != nil {
			return rep, fmt.Errorf("ops: merge: source transaction %d: %w: %w", ti.T, ErrMergeReplay, err)
		}
		m.txMap[ti.TxID] = r.TxID
		for k, id := range r.TempIDs.All() {
			if s, ok := k.(string); ok {
				if n, ok := strings.CutPrefix(s, tempPrefix); ok {
					if e, err := strconv.ParseInt(n, 10, 64); err == nil {
						m.ents[e] = id
					}
				}
			}
		}
		rep.Transactions++
		rep.Datoms += len(r.TxData)
		ts = append(ts, r.T)
		db = r.DBAfter
	}
	rep.Entities = m.ents
	if o.DryRun || rep.Transactions == 0 {
		return rep, nil
	}
	_, c, err := db.Persist(ctx, reader.PersistOptions{Branch: into, Parent: hInto,
		TailBytes: o.TailBytes, Writer: "merge:" + from, TxTs: ts})
	if err != nil {
		return rep, fmt.Errorf("ops: merge: %w", err)
	}
	c.Parents = append(c.Parents, hFrom.Addr)
	h, err := branch.Advance(ctx, st, into, hInto, c)
	if err != nil {
		return rep, fmt.Errorf("ops: merge: publish %q: %w", into, err)
	}
	rep.Head = h
	return rep, nil
}

// commonAncestor returns the newest commit reachable from src (walking
// first parents before others, breadth first) that is also reachable from
// dst. It reads every commit reachable from dst once: history walks stop at
// commits GC has collected.
func commonAncestor(ctx context.Context, st *konserve.Store, dst, src konserve.Hash) (konserve.Hash, *branch.Commit, error) {
	inDst := map[konserve.Hash]bool{}
	queue := []konserve.Hash{dst}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h.IsZero() || inDst[h] {
			continue
		}
		c, err := branch.LoadCommit(ctx, st, h)
		if errors.Is(err, konserve.ErrNotFound) {
			continue
		}
		if err != nil {
			return konserve.Hash{}, nil, fmt.Errorf("ops: merge: %w", err)
		}
		inDst[h] = true
		queue = append(queue, c.Parents...)
	}
	seen := map[konserve.Hash]bool{}
	queue = []konserve.Hash{src}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h.IsZero() || seen[h] {
			continue
		}
		seen[h] = true
		c, err := branch.LoadCommit(ctx, st, h)
		if errors.Is(err, konserve.ErrNotFound) {
			continue
		}
		if err != nil {
			return konserve.Hash{}, nil, fmt.Errorf("ops: merge: %w", err)
		}
		if inDst[h] {
			return h, c, nil
		}
		queue = append(queue, c.Parents...)
	}
	return konserve.Hash{}, nil, ErrNoAncestor
}

// forkPoint returns the newest commit on src's first-parent line that is on
// dst's first-parent line: where src branched off. Entities src created
// after it are unknown to dst by their src ids. It returns nil when the
// lines do not meet (history collected by GC).
func forkPoint(ctx context.Context, st *konserve.Store, dst, src konserve.Hash) (*branch.Commit, error) {
	line := map[konserve.Hash]bool{}
	err := branch.Walk(ctx, st, dst, func(h konserve.Hash, _ *branch.Commit) (bool, error) {
		line[h] = true
		return true, nil
	})
	if err != nil && !errors.Is(err, konserve.ErrNotFound) {
		return nil, fmt.Errorf("ops: merge: %w", err)
	}
	var fork *branch.Commit
	err = branch.Walk(ctx, st, src, func(h konserve.Hash, c *branch.Commit) (bool, error) {
		if line[h] {
			fork = c
			return false, nil
		}
		return true, nil
	})
	if err != nil && !errors.Is(err, konserve.ErrNotFound) {
		return nil, fmt.Errorf("ops: merge: %w", err)
	}
	return fork, nil
}

// tempPrefix starts the tempid of a source entity created since the
// ancestor: "merge-<source id>".
const tempPrefix = "merge-"

// merger translates source transactions onto the target.
type merger struct {
	anc            *branch.Commit
	fork           *branch.Commit // where from left into's first-parent line
	cps            map[datom.ID]counterpart
	src, tgt, base *reader.DB
	txMap          map[datom.ID]datom.ID // source tx entity → target tx entity
	ents           map[datom.ID]datom.ID // source new entity → target entity
}

// isNew reports whether source entity e was allocated after the ancestor.
func (m *merger) isNew(e datom.ID) bool {
	switch datom.Part(e) {
	case datom.PartUser:
		return e >= datom.MakeID(datom.PartUser, m.anc.NextUser)
	case datom.PartDB:
		return e >= datom.MakeID(datom.PartDB, max(m.anc.NextDB, datom.DBReserved))
	case datom.PartTx:
		return datom.TxT(e) > m.anc.BasisT
	}
	return false
}

// entity translates source entity e of transaction cur to a target entity,
// lookup ref or tempid.
func (m *merger) entity(ctx context.Context, e, cur datom.ID) (any, error) {
	if !m.isNew(e) {
		cp, err := m.counterpart(ctx, e)
		if err != nil {
			return nil, err
		}
		return cp.ref, nil
	}
	if datom.Part(e) == datom.PartTx {
		if e == cur {
			return tx.TxTempID, nil
		}
		if t, ok := m.txMap[e]; ok {
			return t, nil
		}
		return e, nil // a transaction that replayed nothing: keep its id
	}
	if t, ok := m.ents[e]; ok {
		return t, nil
	}
	return tempPrefix + strconv.FormatInt(e, 10), nil
}

// counterpart is what a source entity the ancestor knows is on the target:
// its id there (0 if it has none) and how a replayed form names it.
type counterpart struct {
	id  datom.ID
	ref any
}

// forked reports whether source entity e was created on the source after
// it forked from the target but before the ancestor (so an earlier merge
// gave it another id on the target).
func (m *merger) forked(e datom.ID) bool {
	switch datom.Part(e) {
	case datom.PartUser:
		return e >= datom.MakeID(datom.PartUser, m.fork.NextUser) && e < datom.MakeID(datom.PartUser, m.anc.NextUser)
	case datom.PartDB:
		lo := max(m.fork.NextDB, datom.DBReserved)
		return e >= datom.MakeID(datom.PartDB, lo) && e < datom.MakeID(datom.PartDB, max(m.anc.NextDB, lo))
	}
	return false
}

// counterpart finds source entity e (known to the ancestor) on the target.
// Entities from before the fork have the same id on both. Entities created
// on the source since the fork are found by a :db.unique/identity value
// they had at the ancestor (:db/ident for attributes), which the earlier
// merge copied.
func (m *merger) counterpart(ctx context.Context, e datom.ID) (counterpart, error) {
	if !m.forked(e) {
		return counterpart{id: e, ref: e}, nil
	}
	if cp, ok := m.cps[e]; ok {
		return cp, nil
	}
	schema := m.base.Schema()
	var ident *datom.Attribute
	var val any
	err := m.base.Datoms(ctx, datom.EAVT, []any{e}, func(d datom.Datom) bool {
		if at := schema.Attr(d.A); at != nil && at.Unique == datom.UniqueIdentity {
			ident, val = at, d.V
			return false
		}
		return true
	})
	if err != nil {
		return counterpart{}, fmt.Errorf("ops: merge: read entity %d: %w", e, err)
	}
	if ident == nil {
		return counterpart{}, fmt.Errorf("ops: merge: %w: entity %d was created on the source before an earlier merge and has no :db.unique/identity attribute to find it on the target by",
			ErrMergeReplay, e)
	}
	cp := counterpart{ref: edn.Vector{ident.Ident, val}}
	err = m.tgt.Datoms(ctx, datom.AVET, []any{ident.ID, val}, func(d datom.Datom) bool {
		cp.id = d.E
		return false
	})
	if err != nil {
		return counterpart{}, fmt.Errorf("ops: merge: look up %s %v: %w", ident.Ident, val, err)
	}
	m.cps[e] = cp
	return cp, nil
}

// forms translates one source transaction (M1).
func (m *merger) forms(ctx context.Context, ti reader.TxInfo) ([]any, error) {
	schema := m.src.Schema()
	var out []any
	var err error
	for _, d := range ti.Datoms {
		if d.E == ti.TxID && d.A == datom.DBTxInstant {
			continue
		}
		at := schema.Attr(d.A)
		if at == nil {
			return nil, fmt.Errorf("ops: merge: source transaction %d: %w: attribute %d not in the source schema", ti.T, ErrMergeReplay, d.A)
		}
		if len(at.TupleAttrs) > 0 {
			continue
		}
		v := d.V
		if at.IsRef() {
			if id, ok := v.(int64); ok {
				if v, err = m.entity(ctx, id, ti.TxID); err != nil {
					return nil, err
				}
			}
		}
		e, err := m.entity(ctx, d.E, ti.TxID)
		if err != nil {
			return nil, err
		}
		op := edn.Keyword("db/add")
		if !d.Added {
			op = "db/retract"
		}
		out = append(out, edn.Vector{op, e, at.Ident, v})
	}
	return out, nil
}

// values returns the sorted current values of e's attribute a in db.
func values(ctx context.Context, db *reader.DB, e, a datom.ID) ([]any, error) {
	var vs []any
	err := db.Datoms(ctx, datom.EAVT, []any{e, a}, func(d datom.Datom) bool {
		vs = append(vs, d.V)
		return true
	})
	slices.SortFunc(vs, datom.CompareValues)
	return vs, err
}

func sameValues(x, y []any) bool {
	return slices.EqualFunc(x, y, func(a, b any) bool { return datom.CompareValues(a, b) == 0 })
}

// conflicts checks the source's changes against the target (M2).
func (m *merger) conflicts(ctx context.Context, txs []reader.TxInfo) ([]Conflict, error) {
	type ea struct{ e, a datom.ID }
	schema := m.src.Schema()
	seen := map[ea]bool{}
	var out []Conflict
	for _, ti := range txs {
		for _, d := range ti.Datoms {
			at := schema.Attr(d.A)
			if at == nil || d.E == ti.TxID || len(at.TupleAttrs) > 0 {
				continue
			}
			if at.Cardinality != datom.CardinalityOne && at.Unique == datom.UniqueNone {
				continue
			}
			k := ea{d.E, d.A}
			if seen[k] {
				continue
			}
			seen[k] = true
			if !m.isNew(d.E) {
				c, err := m.changedBoth(ctx, d.E, at)
				if err != nil {
					return nil, err
				}
				if c != nil {
					out = append(out, *c)
					continue
				}
			}
			if at.Unique == datom.UniqueNone {
				continue
			}
			cs, err := m.uniqueTaken(ctx, d.E, at)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
	}
	return out, nil
}

// changedBoth compares a shared entity's attribute at the ancestor and
// both heads.
func (m *merger) changedBoth(ctx context.Context, e datom.ID, at *datom.Attribute) (*Conflict, error) {
	cp, err := m.counterpart(ctx, e)
	if err != nil {
		return nil, err
	}
	var vals [3][]any
	for i, db := range []*reader.DB{m.base, m.src, m.tgt} {
		id := e
		if db == m.tgt {
			id = cp.id
		}
		vs, err := values(ctx, db, id, at.ID)
		if err != nil {
			return nil, fmt.Errorf("ops: merge: read %d %s: %w", e, at.Ident, err)
		}
		vals[i] = vs
	}
	b, s, t := vals[0], vals[1], vals[2]
	if sameValues(s, b) || sameValues(t, b) || sameValues(s, t) {
		return nil, nil
	}
	return &Conflict{Kind: ConflictChanged, E: e, A: at.Ident, Base: b, Source: s, Target: t}, nil
}

// uniqueTaken reports the unique values e holds at the source head that
// another entity holds on the target and will still hold after the replay.
func (m *merger) uniqueTaken(ctx context.Context, e datom.ID, at *datom.Attribute) ([]Conflict, error) {
	vs, err := values(ctx, m.src, e, at.ID)
	if err != nil {
		return nil, fmt.Errorf("ops: merge: read %d %s: %w", e, at.Ident, err)
	}
	self := datom.ID(0)
	if !m.isNew(e) {
		cp, err := m.counterpart(ctx, e)
		if err != nil {
			return nil, err
		}
		self = cp.id
	}
	var out []Conflict
	for _, v := range vs {
		var holders []datom.ID
		err := m.tgt.Datoms(ctx, datom.AVET, []any{at.ID, v}, func(d datom.Datom) bool {
			holders = append(holders, d.E)
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("ops: merge: look up %s %v: %w", at.Ident, v, err)
		}
		for _, h := range holders {
			if h == self {
				continue // the entity already holds it on the target
			}
			// A shared holder the source took the value from gives it up
			// in the replay.
			if !m.isNew(h) && !m.forked(h) {
				gone, err := m.releasedBySource(ctx, h, at.ID, v)
				if err != nil {
					return nil, err
				}
				if gone {
					continue
				}
			}
			out = append(out, Conflict{Kind: ConflictUniqueTaken, E: e, A: at.Ident, Value: v, Holder: h})
		}
	}
	return out, nil
}

// releasedBySource reports whether shared entity h held a of value v at the
// ancestor and no longer does at the source head (so the replay retracts it).
func (m *merger) releasedBySource(ctx context.Context, h, a datom.ID, v any) (bool, error) {
	has := func(db *reader.DB) (bool, error) {
		found := false
		err := db.Datoms(ctx, datom.EAVT, []any{h, a, v}, func(datom.Datom) bool { found = true; return false })
		return found, err
	}
	inBase, err := has(m.base)
	if err != nil || !inBase {
		return false, err
	}
	inSrc, err := has(m.src)
	return !inSrc, err
}
