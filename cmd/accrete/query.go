package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

var queryCmd = &command{
	name:     "query",
	synopsis: "URL QUERY-EDN [INPUT-EDN ...] [--source '$name=URL'] [--rules FILE|EDN] [--as-of T] [--since T] [--history] [--json]",
	summary:  "run a Datalog query and print its result",
	help: `The first source $ is the database at URL (always bound, even when :in does
not name it; with no :in the query runs against $). --as-of, --since and
--history apply to $. --source '$name=URL' adds a source, possibly in another
bucket; its URL may carry as-of=T, since=T, history=true and branch=B, e.g.
--source '$old=file:///data/people?as-of=1200'. --rules takes a file or EDN text
and binds %.

INPUT-EDN arguments bind, in order, the :in names not bound by URL, --source or
--rules. An input bound to a source name ($x) may be a plain EDN collection of
tuples, queried like a database. Too few or too many inputs are an error.
An attribute variable ([?e ?a ?v]) binds the attribute's ident keyword.

A relation result prints as a set of vectors, sorted by their EDN text.`,
	run: runQuery,
}

// sourceFlags collects repeated --source flags.
type sourceFlags []string

func (s *sourceFlags) String() string     { return strings.Join(*s, " ") }
func (s *sourceFlags) Set(v string) error { *s = append(*s, v); return nil }

// namedSource is one --source: a $name and the database it names.
type namedSource struct {
	name edn.Symbol
	ref  dbRef
}

func parseSourceFlag(v, branchFlag string) (namedSource, error) {
	name, rawURL, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(name, "$") || len(name) < 2 || strings.ContainsAny(name, " \t") {
		return namedSource{}, usagef("accrete query: --source %q: want '$name=URL'", v)
	}
	ref, err := parseDBRef(rawURL, "")
	if err != nil {
		return namedSource{}, err
	}
	return namedSource{name: edn.Symbol(name), ref: ref}, nil
}

func runQuery(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch of URL (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	var view viewFlags
	view.register(fs)
	var sources sourceFlags
	fs.Var(&sources, "source", "add a source `'$name=URL'` (repeatable; URL may carry as-of=, since=, history=, branch=)")
	rulesArg := fs.String("rules", "", "rules as a `FILE` or EDN text, bound to %")
	pos, err := c.parse(e, fs, args, 2, -1)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	view.apply(&ref)
	var named []namedSource
	for _, s := range sources {
		ns, err := parseSourceFlag(s, "")
		if err != nil {
			return err
		}
		if ns.name == "$" {
			return usagef("accrete query: --source cannot rebind $ (it is URL)")
		}
		for _, o := range named {
			if o.name == ns.name {
				return usagef("accrete query: source %s given twice", ns.name)
			}
		}
		named = append(named, ns)
	}
	form, err := edn.ReadString(pos[1])
	if err != nil {
		return fmt.Errorf("accrete query: query: %w", err)
	}
	qmap, err := queryMap(form)
	if err != nil {
		return fmt.Errorf("accrete query: %w", err)
	}
	var rules any
	if *rulesArg != "" {
		if rules, err = readRules(*rulesArg); err != nil {
			return fmt.Errorf("accrete query: %w", err)
		}
	}
	// Parse every input before opening any bucket.
	inputs := make([]any, 0, len(pos)-2)
	for i, s := range pos[2:] {
		v, err := edn.ReadString(s)
		if err != nil {
			return fmt.Errorf("accrete query: input %d: %w", i+1, err)
		}
		inputs = append(inputs, v)
	}
	qmap, in, err := bindIn(qmap, named, rules != nil, len(inputs))
	if err != nil {
		return fmt.Errorf("accrete query: %w", err)
	}

	var stores []*konserve.Store
	defer func() {
		for _, st := range stores {
			st.Close()
		}
	}()
	db, st, err := openDB(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete query: %w", err)
	}
	stores = append(stores, st)
	dbs := map[edn.Symbol]*reader.DB{"$": db}
	for _, ns := range named {
		sdb, sst, err := openDB(ctx, ns.ref)
		if err != nil {
			return fmt.Errorf("accrete query: source %s: %w", ns.name, err)
		}
		stores = append(stores, sst)
		dbs[ns.name] = sdb
	}
	args2 := make([]any, 0, len(in))
	next := 0
	for _, el := range in {
		sym, _ := el.(edn.Symbol)
		switch {
		case dbs[sym] != nil:
			args2 = append(args2, dbs[sym])
		case sym == "%" && rules != nil:
			args2 = append(args2, rules)
		default:
			args2 = append(args2, inputs[next])
			next++
		}
	}
	res, err := query.Q(ctx, qmap, args2...)
	if err != nil {
		return fmt.Errorf("accrete query: %w", err)
	}
	return emit(e.stdout, relationValue(res), *asJSON)
}

// queryMap returns a query in map form ({:find [...] :in [...] ...}), from
// either form, so that its :in can be rewritten.
func queryMap(form any) (edn.Map, error) {
	switch q := form.(type) {
	case edn.Map:
		return append(edn.Map(nil), q...), nil
	case edn.Vector:
		var m edn.Map
		for _, x := range q {
			if kw, ok := x.(edn.Keyword); ok {
				for _, me := range m {
					if me.Key == kw {
						// The query package refuses it too; saying so here
						// keeps the rewrite from printing a map with a key twice.
						return nil, fmt.Errorf("query section %s appears twice", edn.String(kw))
					}
				}
				m = append(m, edn.MapEntry{Key: kw, Val: edn.Vector{}})
				continue
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("query must start with a keyword such as :find, got %s", edn.String(x))
			}
			last := &m[len(m)-1]
			last.Val = append(last.Val.(edn.Vector), x)
		}
		return m, nil
	}
	return nil, fmt.Errorf("a query is a vector [:find ...] or a map {:find [...]}, got %s", edn.String(form))
}

// bindIn rewrites the :in of q so that $ (and every --source and %, when
// given) are bound, and checks that the remaining :in elements match the
// number of INPUT-EDN arguments. It returns the final :in elements.
func bindIn(q edn.Map, named []namedSource, haveRules bool, nInputs int) (edn.Map, []any, error) {
	idx := -1
	for i, me := range q {
		if me.Key == edn.Keyword("in") {
			idx = i
		}
	}
	var in []any
	if idx >= 0 {
		v, ok := q[idx].Val.(edn.Vector)
		if !ok {
			return nil, nil, fmt.Errorf("query :in must be a vector, got %s", edn.String(q[idx].Val))
		}
		in = append(in, v...)
	} else {
		idx = len(q)
		q = append(q, edn.MapEntry{Key: edn.Keyword("in")})
	}
	has := func(s edn.Symbol) bool {
		for _, x := range in {
			if x == s {
				return true
			}
		}
		return false
	}
	var front []any
	if !has("$") {
		front = append(front, edn.Symbol("$"))
	}
	for _, ns := range named {
		if !has(ns.name) {
			front = append(front, ns.name)
		}
	}
	if haveRules && !has("%") {
		front = append(front, edn.Symbol("%"))
	}
	in = append(front, in...)
	free := 0
	for _, x := range in {
		sym, _ := x.(edn.Symbol)
		bound := sym == "$" || (sym == "%" && haveRules)
		for _, ns := range named {
			bound = bound || sym == ns.name
		}
		if !bound {
			free++
		}
	}
	if free != nInputs {
		return nil, nil, fmt.Errorf("query :in %s needs %d input(s) besides the sources and rules given, got %d INPUT-EDN argument(s)",
			edn.String(edn.Vector(in)), free, nInputs)
	}
	q[idx].Val = edn.Vector(in)
	return q, in, nil
}

// readRules reads --rules: EDN text when it starts with '[', else a file.
func readRules(arg string) (*query.Rules, error) {
	text := []byte(arg)
	if !strings.HasPrefix(strings.TrimSpace(arg), "[") {
		b, err := os.ReadFile(arg)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("rules: no such file %s (and not EDN text)", arg)
			}
			return nil, fmt.Errorf("rules: %w", err)
		}
		text = b
	}
	v, err := edn.Read(text)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	r, err := query.ParseRules(v)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return r, nil
}
