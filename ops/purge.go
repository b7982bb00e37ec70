package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
)

// The purge operations, as Datahike names them.
const (
	// OpPurge is [:db/purge e a v]: every assertion and retraction of the
	// fact (e a v), current and past.
	OpPurge edn.Keyword = "db/purge"
	// OpPurgeAttribute is [:db.purge/attribute e a]: every datom of
	// attribute a on entity e, current and past.
	OpPurgeAttribute edn.Keyword = "db.purge/attribute"
	// OpPurgeEntity is [:db.purge/entity e]: every datom of entity e, every
	// ref datom pointing at e, and (recursively) the entities e holds
	// through component attributes.
	OpPurgeEntity edn.Keyword = "db.purge/entity"
	// OpPurgeHistoryBefore is [:db.history.purge/before inst]: every datom
	// that is not current (retracted assertions and retractions) whose
	// transaction's :db/txInstant is before inst.
	OpPurgeHistoryBefore edn.Keyword = "db.history.purge/before"
)

// The attributes of the purge transaction's entity: what was purged, how
// much and by whom, never the values. Purge installs them (in a
// transaction of their own, in the same commit) the first time a database
// is purged.
const (
	AttrPurgeOp    edn.Keyword = "accrete.purge/op"
	AttrPurgeCount edn.Keyword = "accrete.purge/count"
	AttrPurgeBy    edn.Keyword = "accrete.purge/by"
)

const purgeSchema = `[
 {:db/ident :accrete.purge/op :db/valueType :db.type/string :db/cardinality :db.cardinality/many
  :db/doc "A purge operation this transaction performed, with entity ids and attribute idents but never values."}
 {:db/ident :accrete.purge/count :db/valueType :db.type/long :db/cardinality :db.cardinality/one
  :db/doc "How many datoms (assertions and retractions) this purge removed."}
 {:db/ident :accrete.purge/by :db/valueType :db.type/string :db/cardinality :db.cardinality/one
  :db/doc "Who asked for this purge."}]`

// IsPurgeOp reports whether k names one of the purge operations.
func IsPurgeOp(k edn.Keyword) bool {
	switch k {
	case OpPurge, OpPurgeAttribute, OpPurgeEntity, OpPurgeHistoryBefore:
		return true
	}
	return false
}

// IsPurgeForm reports whether a transaction form is a purge form ([op …]
// with op a purge operation), so that a transactor can refuse it and point
// to Purge.
func IsPurgeForm(form any) bool {
	xs, ok := formSlice(form)
	if !ok || len(xs) == 0 {
		return false
	}
	k, ok := xs[0].(edn.Keyword)
	return ok && IsPurgeOp(k)
}

// PurgeOp is one parsed purge form. E names an entity (an id, an ident
// keyword or a lookup ref [attribute value]); A an attribute (ident or id);
// V a value (for OpPurge); Before an instant (for OpPurgeHistoryBefore).
type PurgeOp struct {
	Op     edn.Keyword
	E      any
	A      any
	V      any
	Before time.Time
	// Index is the form's position in the data, Text its EDN text: errors
	// name the form by both.
	Index int
	Text  string
}

func formSlice(form any) ([]any, bool) {
	switch x := form.(type) {
	case edn.Vector:
		return x, true
	case edn.List:
		return x, true
	case []any:
		return x, true
	}
	return nil, false
}

// ParsePurge reads purge data: EDN text (string or []byte) or parsed forms
// (a vector of forms), each [:db/purge e a v], [:db.purge/attribute e a],
// [:db.purge/entity e] or [:db.history.purge/before #inst "…"]. It checks
// shapes only; Purge resolves entities and attributes against the
// database. Errors wrap ErrInvalidPurge and name the form.
func ParsePurge(data any) ([]PurgeOp, error) {
	forms, err := reader.TxForms(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPurge, err)
	}
	if len(forms) == 0 {
		return nil, fmt.Errorf("%w: no purge forms", ErrInvalidPurge)
	}
	out := make([]PurgeOp, 0, len(forms))
	for i, f := range forms {
		text := edn.String(f)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: form %d %s: %s", ErrInvalidPurge, i, text, fmt.Sprintf(format, args...))
		}
		xs, ok := formSlice(f)
		if !ok || len(xs) == 0 {
			return nil, bad("not a purge form (want [:db/purge e a v], [:db.purge/attribute e a], [:db.purge/entity e] or [:db.history.purge/before inst])")
		}
		k, _ := xs[0].(edn.Keyword)
		if !IsPurgeOp(k) {
			return nil, bad("not a purge operation (want :db/purge, :db.purge/attribute, :db.purge/entity or :db.history.purge/before)")
		}
		op := PurgeOp{Op: k, Index: i, Text: text}
		want := map[edn.Keyword]int{OpPurge: 4, OpPurgeAttribute: 3, OpPurgeEntity: 2, OpPurgeHistoryBefore: 2}[k]
		if len(xs) != want {
			return nil, bad("%s takes %d arguments, got %d", k, want-1, len(xs)-1)
		}
		switch k {
		case OpPurgeHistoryBefore:
			tm, ok := xs[1].(time.Time)
			if !ok {
				return nil, bad("%s needs an instant (#inst \"2024-01-01T00:00:00Z\"), got %s", k, edn.String(xs[1]))
			}
			op.Before = tm
		default:
			op.E = xs[1]
			if len(xs) > 2 {
				op.A = xs[2]
			}
			if len(xs) > 3 {
				op.V = xs[3]
				if op.V == nil {
					return nil, bad("nil is not a value")
				}
			}
			if op.E == nil || (len(xs) > 2 && op.A == nil) {
				return nil, bad("nil cannot name an entity or attribute")
			}
		}
		out = append(out, op)
	}
	return out, nil
}

// PurgeOptions configure Purge. The zero value (or nil) means defaults.
type PurgeOptions struct {
	// Branch to purge ("" means main). Other branches, and copies made by
	// Sync, keep the datoms until they are purged too.
	Branch string
	// By names who asked for the purge; it is recorded on the purge
	// transaction as :accrete.purge/by.
	By string
	// DryRun resolves the forms and counts what would be removed, but
	// writes nothing.
	DryRun bool
	// Width is the node width of rebuilt index trees (0: pss.DefaultWidth).
	Width int
	// MaxRetries bounds how often Purge starts over after a writer moved
	// the head meanwhile (0: 8).
	MaxRetries int
	// Now is the clock for the purge transaction's :db/txInstant (nil:
	// time.Now).
	Now func() time.Time
}

// PurgeReport says what Purge did (or, in a dry run, would do).
type PurgeReport struct {
	Branch string
	DryRun bool
	// Ops describes each operation as recorded in :accrete.purge/op:
	// entity ids and attribute idents, never values. Component entities
	// purged with an entity appear as entity operations of their own.
	Ops []string
	// Datoms counts the distinct datoms removed: assertions and
	// retractions, current and past.
	Datoms int
	// Removed counts the entries removed from each index tree, by the
	// tree's name in the commit ("eavt" … "history-vaet", "log").
	Removed map[string]int
	// T and TxID are the purge transaction's (0 when nothing was written).
	T    int64
	TxID datom.ID
	// Head is the branch's new head, nil if nothing was written (dry run,
	// or nothing matched).
	Head *branch.Head
	// NodesWritten and BytesWritten count the node PUTs of the purge
	// commit (tree paths, log tail and commit), from the store's counters:
	// other work on the same store at the same time is counted too.
	NodesWritten, BytesWritten int64
	// Retries counts the times Purge started over because the head moved.
	Retries int
}

// Purge removes datoms from one branch of st, for legal erasure: the forms
// in data (see ParsePurge) select datoms, which are removed from every
// index tree, current and history, and from the log, and the removal is
// recorded as a transaction whose entity says what was purged, how much
// and by whom (:accrete.purge/op, /count, /by, and :db/txInstant), never
// the values.
//
// Purge is a commit like a writer's: it reads the head, opens its value,
// merges the log tail into the trees (so no tail repeats the datoms),
// deletes the datoms, adds the purge transaction and swaps the head by
// compare-and-swap. If a writer moved the head meanwhile, Purge starts over
// on the new head (MaxRetries); a writer that loses its swap to Purge
// rebases its transactions onto the purged value. No transaction is lost.
//
// The bytes leave the bucket only when GC deletes the nodes that held
// them: every older commit, its trees and its log tail still hold the
// datoms until they are unreachable (no retained commit names them) and
// older than GC's grace. Other branches and synced copies keep the datoms
// until they are purged too.
//
// Semantics follow Datahike: see OpPurge, OpPurgeAttribute, OpPurgeEntity
// and OpPurgeHistoryBefore. Lookup refs resolve against the current value
// and, failing that, against history, so an entity whose unique value was
// retracted can still be named by it. Values of composite tuple attributes
// built from a purged attribute are purged with it; the history of schema
// entities (attributes) is never purged; schema and transaction entities,
// and entities with an ident, cannot be purged as entities; built-in
// (:db/…) attributes, such as :db/txInstant, cannot be purged. If nothing
// matches, Purge writes nothing and returns a report with Datoms 0.
func Purge(ctx context.Context, st *konserve.Store, data any, opts *PurgeOptions) (PurgeReport, error) {
	var o PurgeOptions
	if opts != nil {
		o = *opts
	}
	rep := PurgeReport{Branch: o.Branch, DryRun: o.DryRun}
	if o.Branch == "" {
		o.Branch = branch.Default
		rep.Branch = o.Branch
	}
	if !branch.ValidName(o.Branch) {
		return rep, fmt.Errorf("ops: purge: %w: %w: %q", ErrInvalidOptions, branch.ErrBadName, o.Branch)
	}
	if o.MaxRetries < 0 {
		return rep, fmt.Errorf("ops: purge: %w: negative MaxRetries", ErrInvalidOptions)
	}
	if err := (&reader.Options{Width: o.Width}).Validate(); err != nil {
		return rep, fmt.Errorf("ops: purge: %w: %w", ErrInvalidOptions, err)
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	pops, err := ParsePurge(data)
	if err != nil {
		return rep, err
	}
	for attempt := 0; ; attempt++ {
		r, err := purgeOnce(ctx, st, pops, &o)
		r.Retries = attempt
		if err == nil || !errors.Is(err, branch.ErrConflict) || attempt >= o.MaxRetries {
			return r, err
		}
		select {
		case <-time.After(time.Duration(1<<min(attempt, 6)) * time.Millisecond):
		case <-ctx.Done():
			return r, fmt.Errorf("ops: purge: %w (after %w)", ctx.Err(), err)
		}
	}
}

func purgeOnce(ctx context.Context, st *konserve.Store, pops []PurgeOp, o *PurgeOptions) (PurgeReport, error) {
	rep := PurgeReport{Branch: o.Branch, DryRun: o.DryRun}
	h, err := branch.Read(ctx, st, o.Branch)
	if err != nil {
		return rep, fmt.Errorf("ops: purge: %w", err)
	}
	db, err := reader.FromHead(ctx, st, h, o.Width)
	if err != nil {
		return rep, fmt.Errorf("ops: purge: %w", err)
	}
	ds, descs, err := PurgeDatoms(ctx, db, pops)
	if errors.Is(err, ErrInvalidPurge) {
		return rep, err // names the form already
	}
	if err != nil {
		return rep, fmt.Errorf("ops: purge: %w", err)
	}
	rep.Ops, rep.Datoms = descs, len(ds)
	if len(ds) == 0 {
		return rep, nil
	}
	before := st.Stats()
	ex, xrep, err := db.Excise(ctx, ds)
	if err != nil {
		return rep, fmt.Errorf("ops: purge: %w", err)
	}
	rep.Removed = xrep.Removed
	if o.DryRun {
		return rep, nil
	}
	now := o.Now()
	var ts []int64
	if missingPurgeSchema(ex.Schema()) {
		forms, err := reader.TxForms(purgeSchema)
		if err != nil {
			return rep, fmt.Errorf("ops: purge: %w", err)
		}
		r, err := ex.Transact(ctx, forms, &reader.TxOptions{Now: now})
		if err != nil {
			return rep, fmt.Errorf("ops: purge: install audit attributes: %w", err)
		}
		ex = r.DBAfter
		ts = append(ts, r.T)
	}
	forms := []any{edn.Vector{edn.Keyword("db/add"), tx.TxTempID, AttrPurgeCount, int64(len(ds))}}
	for _, d := range descs {
		forms = append(forms, edn.Vector{edn.Keyword("db/add"), tx.TxTempID, AttrPurgeOp, d})
	}
	if o.By != "" {
		forms = append(forms, edn.Vector{edn.Keyword("db/add"), tx.TxTempID, AttrPurgeBy, o.By})
	}
	r, err := ex.Transact(ctx, forms, &reader.TxOptions{Now: now})
	if err != nil {
		return rep, fmt.Errorf("ops: purge: record purge transaction: %w", err)
	}
	ts = append(ts, r.T)
	_, c, pending, err := r.DBAfter.Prepare(ctx, reader.PersistOptions{Branch: o.Branch, Parent: h, Writer: "purge", TxTs: ts})
	if err != nil {
		return rep, fmt.Errorf("ops: purge: %w", err)
	}
	nh, err := branch.AdvanceWith(ctx, st, o.Branch, h, c, pending)
	after := st.Stats()
	rep.NodesWritten, rep.BytesWritten = after.Puts-before.Puts, after.BytesWritten-before.BytesWritten
	if err != nil {
		return rep, fmt.Errorf("ops: purge: publish %q: %w", o.Branch, err)
	}
	rep.T, rep.TxID, rep.Head = r.T, r.TxID, nh
	// The purged bytes may still be in the head file's older slots, which
	// staged earlier commits' log tails (konserve, file backend): clear
	// them.
	if err := st.Settle(ctx); err != nil {
		return rep, fmt.Errorf("ops: purge: %w", err)
	}
	return rep, nil
}

func missingPurgeSchema(s *datom.Schema) bool {
	for _, k := range []edn.Keyword{AttrPurgeOp, AttrPurgeCount, AttrPurgeBy} {
		if s.AttrByIdent(k) == nil {
			return true
		}
	}
	return false
}

// PurgeDatoms resolves purge operations against db (a current value) and
// returns the datoms they select, exactly as stored (each assertion and
// each retraction, with its transaction), sorted in EAVT order without
// duplicates, and a description of each operation for the audit record
// (entity ids and attribute idents, never values). Errors wrap
// ErrInvalidPurge and name the form.
func PurgeDatoms(ctx context.Context, db *reader.DB, pops []PurgeOp) ([]datom.Datom, []string, error) {
	if _, ok := db.AsOfT(); ok || db.IsHistory() {
		return nil, nil, fmt.Errorf("%w: purge needs the current value", ErrInvalidPurge)
	}
	if _, ok := db.SinceT(); ok {
		return nil, nil, fmt.Errorf("%w: purge needs the current value", ErrInvalidPurge)
	}
	p := &purger{db: db, hist: db.History(), schema: db.Schema(), entities: map[datom.ID]bool{}}
	for _, a := range p.schema.Attrs() {
		if a.NoHistory {
			p.noHistory = true
		}
	}
	for _, op := range pops {
		if err := p.resolve(ctx, op); err != nil {
			if errors.Is(err, ErrInvalidPurge) || ctx.Err() != nil {
				return nil, nil, err
			}
			// Store errors are not the form's fault; name it anyway.
			return nil, nil, fmt.Errorf("form %d %s: %w", op.Index, op.Text, err)
		}
	}
	if len(p.logPreds) > 0 {
		err := db.TxRange(ctx, 0, 0, func(ti reader.TxInfo) bool {
			for _, d := range ti.Datoms {
				for _, pred := range p.logPreds {
					if pred(d) {
						p.out = append(p.out, d)
						break
					}
				}
			}
			return true
		})
		if err != nil {
			return nil, nil, err
		}
	}
	slices.SortFunc(p.out, datom.CompareEAVT)
	p.out = slices.CompactFunc(p.out, func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 })
	return p.out, slices.Compact(p.descs), nil
}

// purger collects the datoms purge operations select.
type purger struct {
	db, hist  *reader.DB
	schema    *datom.Schema
	noHistory bool // some attribute is :db/noHistory: retracted values live only in the log
	entities  map[datom.ID]bool
	out       []datom.Datom
	descs     []string
	// logPreds select datoms of :db/noHistory attributes, whose retracted
	// values history does not hold but the log does: one pass over the log
	// at the end applies them all.
	logPreds []func(datom.Datom) bool
}

func (p *purger) bad(op PurgeOp, format string, args ...any) error {
	return fmt.Errorf("%w: form %d %s: %s", ErrInvalidPurge, op.Index, op.Text, fmt.Sprintf(format, args...))
}

func (p *purger) resolve(ctx context.Context, op PurgeOp) error {
	if op.Op == OpPurgeHistoryBefore {
		p.descs = append(p.descs, fmt.Sprintf("[%s %s]", op.Op, edn.String(op.Before)))
		return p.before(ctx, op.Before)
	}
	e, err := p.entity(ctx, op, op.E)
	if err != nil {
		return err
	}
	if datom.Part(e) == datom.PartDB {
		return p.bad(op, "entity %d is a schema entity, which cannot be purged", e)
	}
	if op.Op == OpPurgeEntity {
		if datom.Part(e) == datom.PartTx {
			return p.bad(op, "entity %d is a transaction, which cannot be purged as an entity (purge its attributes)", e)
		}
		if k, ok := p.schema.Ident(e); ok {
			return p.bad(op, "entity %d has the ident %s, which the schema holds: retract the ident first", e, k)
		}
		return p.purgeEntity(ctx, e)
	}
	a, err := p.attr(op, op.A)
	if err != nil {
		return err
	}
	if a.Ident.Namespace() == "db" {
		return p.bad(op, "%s is a built-in attribute, which cannot be purged", a.Ident)
	}
	if op.Op == OpPurgeAttribute {
		p.descs = append(p.descs, fmt.Sprintf("[%s %d %s]", op.Op, e, a.Ident))
		return p.purgeAttr(ctx, e, a, nil)
	}
	v, err := p.value(ctx, op, a, op.V)
	if err != nil {
		return err
	}
	p.descs = append(p.descs, fmt.Sprintf("[%s %d %s]", op.Op, e, a.Ident))
	return p.purgeAttr(ctx, e, a, &v)
}

// entity resolves an entity position: an id, an ident or a lookup ref.
func (p *purger) entity(ctx context.Context, op PurgeOp, x any) (datom.ID, error) {
	switch v := x.(type) {
	case int64:
		if v <= 0 {
			return 0, p.bad(op, "%d is not an entity id", v)
		}
		return v, nil
	case int:
		return p.entity(ctx, op, int64(v))
	case edn.Keyword:
		id, ok := p.schema.Entid(v)
		if !ok {
			return 0, p.bad(op, "unknown ident %s", v)
		}
		return id, nil
	}
	xs, ok := formSlice(x)
	if !ok {
		return 0, p.bad(op, "%s cannot name an entity (an id, an ident or a lookup ref [attribute value])", edn.String(x))
	}
	if len(xs) != 2 {
		return 0, p.bad(op, "lookup ref %s is not [attribute value]", edn.String(x))
	}
	a, err := p.attr(op, xs[0])
	if err != nil {
		return 0, err
	}
	if a.Unique == datom.UniqueNone {
		return 0, p.bad(op, "lookup ref %s: %s is not unique", edn.String(x), a.Ident)
	}
	v, err := p.value(ctx, op, a, xs[1])
	if err != nil {
		return 0, err
	}
	var found datom.ID
	if err := p.db.Datoms(ctx, datom.AVET, []any{a.ID, v}, func(d datom.Datom) bool {
		found = d.E
		return false
	}); err != nil {
		return 0, err
	}
	if found != 0 {
		return found, nil
	}
	// A retracted unique value still names the entity that held it.
	holders := map[datom.ID]bool{}
	if err := p.hist.Datoms(ctx, datom.AVET, []any{a.ID, v}, func(d datom.Datom) bool {
		holders[d.E] = true
		return true
	}); err != nil {
		return 0, err
	}
	switch len(holders) {
	case 0:
		return 0, p.bad(op, "lookup ref %s: no entity has or had %s with that value", edn.String(x), a.Ident)
	case 1:
		for e := range holders {
			return e, nil
		}
	}
	return 0, p.bad(op, "lookup ref %s: %d entities held that value over time; name the entity by id", edn.String(x), len(holders))
}

func (p *purger) attr(op PurgeOp, x any) (*datom.Attribute, error) {
	var a *datom.Attribute
	switch k := x.(type) {
	case edn.Keyword:
		a = p.schema.AttrByIdent(k)
	case int64:
		a = p.schema.Attr(k)
	case int:
		a = p.schema.Attr(int64(k))
	}
	if a == nil {
		return nil, p.bad(op, "unknown attribute %s", edn.String(x))
	}
	return a, nil
}

// value coerces x to a's type; for a ref attribute it resolves an entity.
func (p *purger) value(ctx context.Context, op PurgeOp, a *datom.Attribute, x any) (any, error) {
	if a.IsRef() {
		e, err := p.entity(ctx, op, x)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	v, err := a.Coerce(x)
	if err != nil {
		return nil, p.bad(op, "value for %s: %v", a.Ident, err)
	}
	return v, nil
}

func (p *purger) add(ctx context.Context, comps []any, idx datom.Index, keep func(datom.Datom) bool) error {
	return p.hist.Datoms(ctx, idx, comps, func(d datom.Datom) bool {
		if keep == nil || keep(d) {
			p.out = append(p.out, d)
		}
		return true
	})
}

// purgeAttr selects e's datoms of a (with value *v when v is not nil), and
// the matching values of composite tuples built from a.
func (p *purger) purgeAttr(ctx context.Context, e datom.ID, a *datom.Attribute, v *any) error {
	comps := []any{e, a.ID}
	if v != nil {
		comps = append(comps, *v)
	}
	var components []datom.ID
	if err := p.add(ctx, comps, datom.EAVT, func(d datom.Datom) bool {
		if v == nil && a.IsComponent && d.Added {
			if c, ok := d.V.(int64); ok {
				components = append(components, c)
			}
		}
		return true
	}); err != nil {
		return err
	}
	for _, ta := range p.schema.Attrs() {
		k := slices.Index(ta.TupleAttrs, a.ID)
		if k < 0 {
			continue
		}
		err := p.add(ctx, []any{e, ta.ID}, datom.EAVT, func(d datom.Datom) bool {
			if v == nil {
				return true
			}
			t, ok := d.V.(edn.Vector)
			return ok && k < len(t) && t[k] != nil && datom.CompareValues(t[k], *v) == 0
		})
		if err != nil {
			return err
		}
	}
	if a.NoHistory {
		p.logPreds = append(p.logPreds, func(d datom.Datom) bool {
			return d.E == e && d.A == a.ID && (v == nil || datom.CompareValues(d.V, *v) == 0)
		})
	}
	for _, c := range components {
		if err := p.purgeEntity(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// purgeEntity selects every datom of e, every ref to e, and the entities e
// holds through component attributes.
func (p *purger) purgeEntity(ctx context.Context, e datom.ID) error {
	if p.entities[e] || datom.Part(e) != datom.PartUser {
		return nil
	}
	p.entities[e] = true
	p.descs = append(p.descs, fmt.Sprintf("[%s %d]", OpPurgeEntity, e))
	var components []datom.ID
	if err := p.add(ctx, []any{e}, datom.EAVT, func(d datom.Datom) bool {
		if a := p.schema.Attr(d.A); a != nil && a.IsComponent && d.Added {
			if c, ok := d.V.(int64); ok {
				components = append(components, c)
			}
		}
		return true
	}); err != nil {
		return err
	}
	if err := p.add(ctx, []any{e}, datom.VAET, nil); err != nil {
		return err
	}
	if p.noHistory {
		p.logPreds = append(p.logPreds, func(d datom.Datom) bool {
			if d.E == e {
				return true
			}
			a := p.schema.Attr(d.A)
			return a != nil && a.IsRef() && d.V == any(e)
		})
	}
	for _, c := range components {
		if err := p.purgeEntity(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// before selects every datom that is not current, of a transaction whose
// :db/txInstant is before tm (Datahike's :db.history.purge/before):
// retractions, and assertions no longer current. Datoms of schema entities
// stay.
func (p *purger) before(ctx context.Context, tm time.Time) error {
	cut := int64(-1)
	err := p.db.IndexRange(ctx, datom.DBTxInstant, nil, datom.NormalizeInstant(tm), func(d datom.Datom) bool {
		if t := datom.TxT(d.E); t > cut {
			cut = t
		}
		return true
	})
	if err != nil || cut < 0 {
		return err
	}
	var inner error
	err = p.db.TxRange(ctx, 0, cut+1, func(ti reader.TxInfo) bool {
		for _, d := range ti.Datoms {
			if datom.Part(d.E) == datom.PartDB {
				continue
			}
			if !d.Added {
				p.out = append(p.out, d)
				continue
			}
			current := false
			if inner = p.db.Datoms(ctx, datom.EAVT, []any{d.E, d.A, d.V, d.Tx}, func(datom.Datom) bool {
				current = true
				return false
			}); inner != nil {
				return false
			}
			if !current {
				p.out = append(p.out, d)
			}
		}
		return true
	})
	if err == nil {
		err = inner
	}
	return err
}
