package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

var datomsCmd = &command{
	name:     "datoms",
	synopsis: "URL INDEX [COMPONENTS ...] [--as-of T] [--since T] [--history] [--limit N] [--json]",
	summary:  "print the datoms of an index (eavt, aevt, avet, vaet) with given leading components",
	help: `COMPONENTS are EDN values in the index's order (eavt: e a v tx; aevt: a e v tx;
avet: a v e tx; vaet: v a e tx). Entities may be ids, idents or lookup refs,
attributes are ident keywords. avet holds only indexed attributes, vaet only refs.
Prints a vector of datoms, each [e :attr v tx added].`,
	run: runDatoms,
}

var logCmd = &command{
	name:     "log",
	synopsis: "URL [--from T] [--to T] [--json]",
	summary:  "print the transaction log",
	help: `Prints a vector of transactions {:t T :tx ID :instant #inst "…" :data [[e :attr v tx added] …]}
with from <= t < to (--from defaults to 1, the first user transaction;
--to defaults to no bound).`,
	run: runLog,
}

var historyCmd = &command{
	name:     "history",
	synopsis: "URL ENTITY [--as-of T] [--json]",
	summary:  "print every assertion and retraction about one entity",
	help: `ENTITY is an id, an ident or a lookup ref. Prints a vector of
{:e E :a :attr :v V :tx TX :t T :instant #inst "…" :added BOOL} in transaction
order (retractions before assertions within one transaction).`,
	run: runHistory,
}

// parseIndex reads an index name.
func parseIndex(s string) (datom.Index, error) {
	switch strings.TrimPrefix(strings.ToLower(s), ":") {
	case "eavt":
		return datom.EAVT, nil
	case "aevt":
		return datom.AEVT, nil
	case "avet":
		return datom.AVET, nil
	case "vaet":
		return datom.VAET, nil
	}
	return 0, fmt.Errorf("unknown index %q (want eavt, aevt, avet or vaet)", s)
}

func runDatoms(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch of URL (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	limit := fs.Int("limit", 0, "print at most `N` datoms (0: all)")
	var view viewFlags
	view.register(fs)
	pos, err := c.parse(e, fs, args, 2, 6)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	view.apply(&ref)
	idx, err := parseIndex(pos[1])
	if err != nil {
		return usagef("accrete datoms: %v", err)
	}
	raw := make([]any, 0, len(pos)-2)
	for _, s := range pos[2:] {
		v, err := edn.ReadString(s)
		if err != nil {
			return fmt.Errorf("accrete datoms: component %q: %w", s, err)
		}
		raw = append(raw, v)
	}
	db, st, err := openDB(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete datoms: %w", err)
	}
	defer st.Close()
	comps, err := resolveComponents(ctx, db, idx, raw)
	if err != nil {
		return fmt.Errorf("accrete datoms: %w", err)
	}
	s := db.Schema()
	return streamVector(e.stdout, *asJSON, func(put func(any) error) error {
		n := 0
		var perr error
		err := db.Datoms(ctx, idx, comps, func(d datom.Datom) bool {
			if perr = put(datomValue(s, d)); perr != nil {
				return false
			}
			n++
			return *limit <= 0 || n < *limit
		})
		if perr != nil {
			return perr
		}
		if err != nil {
			return fmt.Errorf("accrete datoms: %w", err)
		}
		return nil
	})
}

// resolveComponents turns user components into the ids and values Datoms
// takes: idents and lookup refs in entity positions become ids, attribute
// idents become attribute ids, values are coerced to the attribute's type.
func resolveComponents(ctx context.Context, db *reader.DB, idx datom.Index, raw []any) ([]any, error) {
	var order string
	switch idx {
	case datom.EAVT:
		order = "eavt"
	case datom.AEVT:
		order = "aevt"
	case datom.AVET:
		order = "avet"
	case datom.VAET:
		order = "vaet"
	}
	s := db.Schema()
	// Find the attribute first: value coercion depends on it.
	var attr *datom.Attribute
	for i, v := range raw {
		if order[i] != 'a' {
			continue
		}
		switch x := v.(type) {
		case edn.Keyword:
			attr = s.AttrByIdent(x)
		case int64:
			attr = s.Attr(x)
		}
		if attr == nil {
			return nil, fmt.Errorf("unknown attribute %s", edn.String(v))
		}
	}
	comps := make([]any, len(raw))
	for i, v := range raw {
		switch order[i] {
		case 'e':
			id, ok, err := resolveEntity(ctx, db, v)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("no entity %s", edn.String(v))
			}
			comps[i] = id
		case 'a':
			comps[i] = attr.ID
		case 'v':
			if idx == datom.VAET || (attr != nil && attr.IsRef()) {
				id, ok, err := resolveEntity(ctx, db, v)
				if err != nil {
					return nil, err
				}
				if !ok {
					return nil, fmt.Errorf("no entity %s", edn.String(v))
				}
				comps[i] = id
				continue
			}
			if attr != nil {
				cv, err := attr.Coerce(v)
				if err != nil {
					return nil, fmt.Errorf("value %s for %s: %w", edn.String(v), attr.Ident, err)
				}
				comps[i] = cv
				continue
			}
			comps[i] = v
		case 't':
			t, ok := v.(int64)
			if !ok {
				return nil, fmt.Errorf("tx component %s is not an integer", edn.String(v))
			}
			if t < datom.BootstrapTx {
				t = datom.TxID(t)
			}
			comps[i] = t
		}
	}
	return comps, nil
}

// resolveEntity resolves an id, an ident or a lookup ref against db. It
// reports false when an ident or lookup ref names nothing.
func resolveEntity(ctx context.Context, db *reader.DB, v any) (datom.ID, bool, error) {
	s := db.Schema()
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case edn.Keyword:
		id, ok := s.Entid(x)
		return id, ok, nil
	case edn.Vector:
		if len(x) == 2 {
			kw, _ := x[0].(edn.Keyword)
			a := s.AttrByIdent(kw)
			if a == nil {
				return 0, false, fmt.Errorf("lookup ref %s: unknown attribute", edn.String(x))
			}
			if !a.Indexed() {
				return 0, false, fmt.Errorf("lookup ref %s: %s is not unique", edn.String(x), kw)
			}
			val, err := a.Coerce(x[1])
			if err != nil {
				return 0, false, fmt.Errorf("lookup ref %s: %w", edn.String(x), err)
			}
			var id datom.ID
			found := false
			err = db.Datoms(ctx, datom.AVET, []any{a.ID, val}, func(d datom.Datom) bool {
				id, found = d.E, true
				return false
			})
			if err != nil {
				return 0, false, fmt.Errorf("lookup ref %s: %w", edn.String(x), err)
			}
			return id, found, nil
		}
	}
	return 0, false, fmt.Errorf("entity %s: want an id, an ident keyword or a lookup ref [:attr value]", edn.String(v))
}

// attrName is the ident of attribute a, or its id when it has none.
func attrName(s *datom.Schema, a datom.ID) any {
	if kw, ok := s.Ident(a); ok {
		return kw
	}
	return a
}

// datomValue is the printed form of a datom: [e :attr v tx added].
func datomValue(s *datom.Schema, d datom.Datom) edn.Vector {
	return edn.Vector{d.E, attrName(s, d.A), d.V, d.Tx, d.Added}
}

// streamVector prints one EDN vector (or JSON array) whose elements fn puts
// one at a time, so that big results need not be held in memory.
func streamVector(w io.Writer, asJSON bool, fn func(put func(any) error) error) error {
	sep := " "
	if asJSON {
		sep = ","
	}
	if _, err := io.WriteString(w, "["); err != nil {
		return fmt.Errorf("accrete: write result: %w", err)
	}
	first := true
	put := func(v any) error {
		if !first {
			if _, err := io.WriteString(w, sep); err != nil {
				return fmt.Errorf("accrete: write result: %w", err)
			}
		}
		first = false
		return emitRaw(w, v, asJSON)
	}
	if err := fn(put); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "]\n"); err != nil {
		return fmt.Errorf("accrete: write result: %w", err)
	}
	return nil
}

// txInstant returns the :db/txInstant of transaction tx in db.
func txInstant(ctx context.Context, db *reader.DB, tx datom.ID) (time.Time, error) {
	a, ok := db.Schema().Entid(edn.Keyword("db/txInstant"))
	if !ok {
		return time.Time{}, nil
	}
	var tm time.Time
	err := db.Datoms(ctx, datom.EAVT, []any{tx, a}, func(d datom.Datom) bool {
		tm, _ = d.V.(time.Time)
		return false
	})
	return tm, err
}

// txValue is the printed form of one transaction of the log.
func txValue(s *datom.Schema, info reader.TxInfo) edn.Map {
	var instant any
	data := make(edn.Vector, 0, len(info.Datoms))
	for _, d := range info.Datoms {
		if d.E == info.TxID {
			if kw, ok := s.Ident(d.A); ok && kw == "db/txInstant" {
				instant = d.V
			}
		}
		data = append(data, datomValue(s, d))
	}
	return edn.Map{
		{Key: edn.Keyword("t"), Val: info.T},
		{Key: edn.Keyword("tx"), Val: info.TxID},
		{Key: edn.Keyword("instant"), Val: instant},
		{Key: edn.Keyword("data"), Val: data},
	}
}

func runLog(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch of URL (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	from := fs.Int64("from", 1, "first t to print")
	to := fs.Int64("to", 0, "print transactions before this `t` (0: no bound)")
	pos, err := c.parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	if *from < 0 || *to < 0 {
		return usagef("accrete log: --from and --to must not be negative")
	}
	db, st, err := openDB(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete log: %w", err)
	}
	defer st.Close()
	s := db.Schema()
	return streamVector(e.stdout, *asJSON, func(put func(any) error) error {
		var perr error
		err := db.TxRange(ctx, *from, *to, func(info reader.TxInfo) bool {
			perr = put(txValue(s, info))
			return perr == nil
		})
		if perr != nil {
			return perr
		}
		if err != nil {
			return fmt.Errorf("accrete log: %w", err)
		}
		return nil
	})
}

func runHistory(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch of URL (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	asOf := fs.String("as-of", "", "only history up to `T`")
	pos, err := c.parse(e, fs, args, 2, 2)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	if *asOf != "" {
		ref.asOf = *asOf
	}
	ent, err := parseEntityArg(pos[1])
	if err != nil {
		return fmt.Errorf("accrete history: %w", err)
	}
	db, st, err := openDB(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete history: %w", err)
	}
	defer st.Close()
	id, ok, err := resolveEntity(ctx, db.History(), ent)
	if err != nil {
		return fmt.Errorf("accrete history: %w", err)
	}
	if !ok {
		// A lookup ref may name an entity whose value has since changed:
		// resolve it in the history view too.
		return fmt.Errorf("accrete history: no entity %s", pos[1])
	}
	var ds []datom.Datom
	if err := db.History().Datoms(ctx, datom.EAVT, []any{id}, func(d datom.Datom) bool {
		ds = append(ds, d)
		return true
	}); err != nil {
		return fmt.Errorf("accrete history: %w", err)
	}
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].Tx != ds[j].Tx {
			return ds[i].Tx < ds[j].Tx
		}
		return !ds[i].Added && ds[j].Added
	})
	s := db.Schema()
	instants := map[datom.ID]any{}
	out := make(edn.Vector, 0, len(ds))
	for _, d := range ds {
		inst, seen := instants[d.Tx]
		if !seen {
			tm, err := txInstant(ctx, db, d.Tx)
			if err != nil {
				return fmt.Errorf("accrete history: %w", err)
			}
			inst = nil
			if !tm.IsZero() {
				inst = tm
			}
			instants[d.Tx] = inst
		}
		out = append(out, edn.Map{
			{Key: edn.Keyword("e"), Val: d.E},
			{Key: edn.Keyword("a"), Val: attrName(s, d.A)},
			{Key: edn.Keyword("v"), Val: d.V},
			{Key: edn.Keyword("tx"), Val: d.Tx},
			{Key: edn.Keyword("t"), Val: datom.TxT(d.Tx)},
			{Key: edn.Keyword("instant"), Val: inst},
			{Key: edn.Keyword("added"), Val: d.Added},
		})
	}
	return emit(e.stdout, out, *asJSON)
}
