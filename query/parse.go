package query

import (
	"fmt"
	"strings"

	"github.com/accretedb/accrete/edn"
)

// This file is the first stage: EDN forms → a validated syntax tree whose
// variables are already numbered (slots), so later stages never look up a
// variable by name.

type termKind uint8

const (
	termBlank termKind = iota // _
	termVar                   // ?x
	termConst                 // a literal, keyword, lookup ref, plain symbol
	termSrc                   // $ or $name, as a function argument
)

// term is one position of a pattern, function call or binding.
type term struct {
	kind termKind
	slot int        // termVar
	val  any        // termConst
	name edn.Symbol // termVar, termSrc
}

// varTable numbers the variables of one scope (a query or a rule body).
type varTable struct {
	names []edn.Symbol
	index map[edn.Symbol]int
}

func newVarTable() *varTable { return &varTable{index: map[edn.Symbol]int{}} }

func (vt *varTable) slot(s edn.Symbol) int {
	if i, ok := vt.index[s]; ok {
		return i
	}
	vt.index[s] = len(vt.names)
	vt.names = append(vt.names, s)
	return len(vt.names) - 1
}

// clause is a :where clause. The set is sealed by clauseNode.
type clause interface {
	clauseNode()
	raw() any
}

type clauseBase struct{ form any }

func (clauseBase) clauseNode() {}
func (c clauseBase) raw() any  { return c.form }

// patternClause is a data pattern [$src e a v tx added].
type patternClause struct {
	clauseBase
	src   edn.Symbol
	terms []term
}

// fnClause is a predicate [(f args…)] (bind == nil) or a function
// expression [(f args…) binding].
type fnClause struct {
	clauseBase
	fn   edn.Symbol
	args []term
	bind *binding
}

type bindKind uint8

const (
	bindScalar bindKind = iota // ?x
	bindTuple                  // [?a ?b]
	bindColl                   // [?x ...]
	bindRel                    // [[?a ?b]]
)

// binding is the output form of a function expression or an :in element.
type binding struct {
	kind  bindKind
	terms []term // termVar or termBlank
}

// notClause is (not …) or (not-join [vars] …).
type notClause struct {
	clauseBase
	src      edn.Symbol
	join     []int
	explicit bool
	body     []clause
}

// orClause is (or …) or (or-join [[req…] vars…] …); each branch is a
// clause list ((and …) or a single clause).
type orClause struct {
	clauseBase
	src      edn.Symbol
	join     []int
	required []int
	explicit bool
	branches [][]clause
}

// ruleCall is (name args…) or ($src name args…).
type ruleCall struct {
	clauseBase
	src  edn.Symbol
	name edn.Symbol
	args []term
}

type findKind uint8

const (
	findRel findKind = iota
	findColl
	findTuple
	findScalar
)

type elemKind uint8

const (
	elemVar elemKind = iota
	elemAgg
	elemPull
)

// findElem is one element of :find.
type findElem struct {
	kind    elemKind
	slot    int        // elemVar, elemAgg (the aggregated variable), elemPull (the entity)
	fn      edn.Symbol // elemAgg
	consts  []any      // elemAgg: the leading constant arguments, e.g. n of (max n ?x)
	src     edn.Symbol // elemPull
	pattern any        // elemPull
	form    any
}

type inKind uint8

const (
	inSrc inKind = iota
	inRules
	inScalar
	inTuple
	inColl
	inRel
	inBlank
)

// inBinding is one :in element.
type inBinding struct {
	kind  inKind
	name  edn.Symbol // inSrc, inRules
	terms []term     // the variables of scalar, tuple, collection, relation
	form  any
}

type keysKind uint8

const (
	keysNone keysKind = iota
	keysKeywords
	keysStrings
	keysSymbols
)

// Query is a parsed and validated query. It holds no data and no source:
// it can be evaluated any number of times, concurrently, with different
// inputs.
type Query struct {
	form      any
	kind      findKind
	find      []findElem
	keysKind  keysKind
	keys      []any
	with      []int
	in        []inBinding
	where     []clause
	vars      *varTable
	hasAgg    bool
	defaultIn bool // no :in was given: the query reads $ only
}

// String returns the query as EDN.
func (q *Query) String() string { return edn.String(q.form) }

func asVec(x any) ([]any, bool) {
	switch v := x.(type) {
	case edn.Vector:
		return v, true
	case []any:
		return v, true
	}
	return nil, false
}

func isVar(x any) (edn.Symbol, bool) {
	s, ok := x.(edn.Symbol)
	return s, ok && len(s) > 1 && s[0] == '?'
}

func isSrc(x any) (edn.Symbol, bool) {
	s, ok := x.(edn.Symbol)
	return s, ok && len(s) > 0 && s[0] == '$'
}

func isSym(x any, name string) bool {
	s, ok := x.(edn.Symbol)
	return ok && string(s) == name
}

// Parse parses and validates a query given as EDN text (string or []byte)
// or as an already read EDN value in vector form ([:find … :where …]) or
// map form ({:find […] :where […]}); Go []any may stand for vectors.
// Errors wrap ErrMalformed or ErrUnboundVariable.
func Parse(q any) (*Query, error) {
	switch x := q.(type) {
	case *Query:
		return x, nil
	case string:
		v, err := qReadEDN(string(x))
		if err != nil {
			return nil, &Error{Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
		}
		q = v
	case []byte:
		v, err := qReadEDN(string(x))
		if err != nil {
			return nil, &Error{Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
		}
		q = v
	}
	sections := map[edn.Keyword][]any{}
	var order []edn.Keyword
	if m, ok := q.(edn.Map); ok {
		for _, e := range m {
			k, ok := e.Key.(edn.Keyword)
			if !ok {
				return nil, errorf(q, ErrMalformed, "map form keys must be keywords")
			}
			v, ok := asVec(e.Val)
			if !ok {
				if l, isList := e.Val.(edn.List); isList {
					v = l
				} else {
					return nil, errorf(e.Val, ErrMalformed, "%s must be a vector", k)
				}
			}
			sections[k] = v
			order = append(order, k)
		}
	} else if v, ok := asVec(q); ok {
		var cur edn.Keyword
		for _, x := range v {
			if k, ok := x.(edn.Keyword); ok {
				if _, dup := sections[k]; dup {
					return nil, errorf(q, ErrMalformed, "%s appears twice", k)
				}
				cur = k
				sections[k] = []any{}
				order = append(order, k)
				continue
			}
			if cur == "" {
				return nil, errorf(q, ErrMalformed, "query must start with :find")
			}
			sections[cur] = append(sections[cur], x)
		}
	} else {
		return nil, errorf(q, ErrMalformed, "a query is a vector or a map, got %T", q)
	}
	for _, k := range order {
		switch k {
		case "find", "in", "where", "with", "keys", "strs", "syms", "timeout":
		default:
			return nil, errorf(q, ErrMalformed, "unknown section %s", k)
		}
	}
	if len(sections["find"]) == 0 {
		return nil, errorf(q, ErrMalformed, ":find is missing or empty")
	}
	p := &Query{form: q, vars: newVarTable()}
	if err := p.parseFind(sections["find"]); err != nil {
		return nil, err
	}
	for kw, kk := range map[edn.Keyword]keysKind{"keys": keysKeywords, "strs": keysStrings, "syms": keysSymbols} {
		ks, ok := sections[kw]
		if !ok {
			continue
		}
		if p.keysKind != keysNone {
			return nil, errorf(q, ErrMalformed, "only one of :keys, :strs, :syms")
		}
		if p.kind != findRel {
			return nil, errorf(q, ErrMalformed, ":%s needs a relation :find", kw)
		}
		if len(ks) != len(p.find) {
			return nil, errorf(ks, ErrMalformed, ":%s has %d names for %d :find elements", kw, len(ks), len(p.find))
		}
		p.keysKind = kk
		for _, k := range ks {
			s, ok := k.(edn.Symbol)
			if !ok {
				return nil, errorf(k, ErrMalformed, ":%s names must be symbols", kw)
			}
			switch kk {
			case keysKeywords:
				p.keys = append(p.keys, edn.Keyword(s))
			case keysStrings:
				p.keys = append(p.keys, string(s))
			default:
				p.keys = append(p.keys, s)
			}
		}
	}
	for _, w := range sections["with"] {
		s, ok := isVar(w)
		if !ok {
			return nil, errorf(w, ErrMalformed, ":with takes variables")
		}
		p.with = append(p.with, p.vars.slot(s))
	}
	if in, ok := sections["in"]; ok {
		for _, x := range in {
			b, err := parseIn(x, p.vars)
			if err != nil {
				return nil, err
			}
			p.in = append(p.in, b)
		}
	} else {
		p.defaultIn = true
		p.in = []inBinding{{kind: inSrc, name: "$", form: edn.Symbol("$")}}
	}
	where, err := parseClauses(sections["where"], p.vars, false)
	if err != nil {
		return nil, err
	}
	p.where = where
	// Which variables are visible around each not/or: inputs, :find,
	// :with and the other clauses.
	outer := map[int]bool{}
	for _, b := range p.in {
		for _, t := range b.terms {
			if t.kind == termVar {
				outer[t.slot] = true
			}
		}
	}
	for _, f := range p.find {
		outer[f.slot] = true
	}
	for _, w := range p.with {
		outer[w] = true
	}
	if err := resolveJoins(p.where, outer, p.vars); err != nil {
		return nil, err
	}
	// Every :find and :with variable must be bound by :in or :where.
	bound := map[int]bool{}
	for _, b := range p.in {
		for _, t := range b.terms {
			if t.kind == termVar {
				bound[t.slot] = true
			}
		}
	}
	for _, c := range p.where {
		for _, s := range exposedVars(c) {
			bound[s] = true
		}
	}
	for _, f := range p.find {
		if !bound[f.slot] {
			return nil, errorf(f.form, ErrUnboundVariable, "%s is not bound by :in or :where", p.vars.names[f.slot])
		}
	}
	for _, w := range p.with {
		if !bound[w] {
			return nil, errorf(p.vars.names[w], ErrUnboundVariable, ":with variable is not bound by :in or :where")
		}
	}
	return p, nil
}

// MustParse is Parse for queries known to be valid; it panics on error.
func MustParse(q any) *Query {
	p, err := Parse(q)
	if err != nil {
		panic(err)
	}
	return p
}

func (p *Query) parseFind(xs []any) error {
	switch {
	case len(xs) == 2 && isSym(xs[1], "."):
		p.kind = findScalar
		xs = xs[:1]
	case len(xs) == 1:
		if v, ok := asVec(xs[0]); ok {
			if len(v) == 2 && isSym(v[1], "...") {
				p.kind = findColl
				xs = v[:1]
			} else {
				if len(v) == 0 {
					return errorf(xs[0], ErrMalformed, "empty tuple find")
				}
				p.kind = findTuple
				xs = v
			}
		}
	}
	for _, x := range xs {
		e, err := p.parseFindElem(x)
		if err != nil {
			return err
		}
		if e.kind == elemAgg {
			p.hasAgg = true
		}
		p.find = append(p.find, e)
	}
	return nil
}

func (p *Query) parseFindElem(x any) (findElem, error) {
	if s, ok := isVar(x); ok {
		return findElem{kind: elemVar, slot: p.vars.slot(s), form: x}, nil
	}
	l, ok := x.(edn.List)
	if !ok || len(l) < 2 {
		return findElem{}, errorf(x, ErrMalformed, "a :find element is a variable, an aggregate or a pull")
	}
	fn, ok := l[0].(edn.Symbol)
	if !ok {
		return findElem{}, errorf(x, ErrMalformed, "aggregate name must be a symbol")
	}
	if fn == "pull" {
		args := l[1:]
		e := findElem{kind: elemPull, src: "$", form: x}
		if len(args) == 3 {
			src, ok := isSrc(args[0])
			if !ok {
				return e, errorf(x, ErrMalformed, "(pull $src ?e pattern)")
			}
			e.src = src
			args = args[1:]
		}
		if len(args) != 2 {
			return e, errorf(x, ErrMalformed, "(pull ?e pattern) takes an entity variable and a pattern")
		}
		v, ok := isVar(args[0])
		if !ok {
			return e, errorf(x, ErrMalformed, "pull's entity must be a variable")
		}
		e.slot = p.vars.slot(v)
		pp, err := ParsePull(args[1])
		if err != nil {
			return e, &Error{Clause: qString(x), Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
		}
		e.pattern = pp
		return e, nil
	}
	e := findElem{kind: elemAgg, fn: fn, form: x}
	last := l[len(l)-1]
	v, ok := isVar(last)
	if !ok {
		return e, errorf(x, ErrMalformed, "an aggregate's last argument must be a variable")
	}
	e.slot = p.vars.slot(v)
	for _, c := range l[1 : len(l)-1] {
		if _, isv := isVar(c); isv {
			return e, errorf(x, ErrMalformed, "an aggregate takes one variable, its last argument")
		}
		e.consts = append(e.consts, normalize(c))
	}
	return e, nil
}

func parseIn(x any, vt *varTable) (inBinding, error) {
	b := inBinding{form: x}
	if s, ok := x.(edn.Symbol); ok {
		switch {
		case s == "%":
			b.kind, b.name = inRules, s
			return b, nil
		case s == "_":
			b.kind = inBlank
			return b, nil
		case s[0] == '$':
			b.kind, b.name = inSrc, s
			return b, nil
		case s[0] == '?':
			b.kind = inScalar
			b.terms = []term{{kind: termVar, slot: vt.slot(s), name: s}}
			return b, nil
		}
		return b, errorf(x, ErrMalformed, "an :in element is $src, %%, ?var, _ or a binding form")
	}
	bd, err := parseBinding(x, vt)
	if err != nil {
		return b, err
	}
	b.terms = bd.terms
	switch bd.kind {
	case bindTuple:
		b.kind = inTuple
	case bindColl:
		b.kind = inColl
	case bindRel:
		b.kind = inRel
	default:
		b.kind = inScalar
	}
	return b, nil
}

func parseBindTerm(x any, vt *varTable) (term, bool) {
	if isSym(x, "_") {
		return term{kind: termBlank}, true
	}
	if s, ok := isVar(x); ok {
		return term{kind: termVar, slot: vt.slot(s), name: s}, true
	}
	return term{}, false
}

// parseBinding parses ?x, [?a ?b], [?x ...] or [[?a ?b]].
func parseBinding(x any, vt *varTable) (*binding, error) {
	if t, ok := parseBindTerm(x, vt); ok {
		return &binding{kind: bindScalar, terms: []term{t}}, nil
	}
	v, ok := asVec(x)
	if !ok || len(v) == 0 {
		return nil, errorf(x, ErrMalformed, "a binding is ?x, [?a ?b], [?x ...] or [[?a ?b]]")
	}
	if len(v) == 2 && isSym(v[1], "...") {
		t, ok := parseBindTerm(v[0], vt)
		if !ok {
			return nil, errorf(x, ErrMalformed, "a collection binding is [?x ...]")
		}
		return &binding{kind: bindColl, terms: []term{t}}, nil
	}
	if inner, ok := asVec(v[0]); ok && len(v) == 1 {
		b := &binding{kind: bindRel}
		for _, y := range inner {
			t, ok := parseBindTerm(y, vt)
			if !ok {
				return nil, errorf(x, ErrMalformed, "a relation binding holds variables or _")
			}
			b.terms = append(b.terms, t)
		}
		if len(b.terms) == 0 {
			return nil, errorf(x, ErrMalformed, "empty relation binding")
		}
		return b, nil
	}
	b := &binding{kind: bindTuple}
	for _, y := range v {
		t, ok := parseBindTerm(y, vt)
		if !ok {
			return nil, errorf(x, ErrMalformed, "a tuple binding holds variables or _")
		}
		b.terms = append(b.terms, t)
	}
	return b, nil
}

// parseTerm parses a pattern or argument position.
func parseTerm(x any, vt *varTable, allowSrc bool) term {
	if s, ok := x.(edn.Symbol); ok {
		switch {
		case s == "_":
			return term{kind: termBlank}
		case len(s) > 1 && s[0] == '?':
			return term{kind: termVar, slot: vt.slot(s), name: s}
		case allowSrc && s[0] == '$':
			return term{kind: termSrc, name: s}
		}
	}
	if v, ok := x.([]any); ok {
		x = edn.Vector(v)
	}
	return term{kind: termConst, val: normalize(x)}
}

func parseClauses(xs []any, vt *varTable, inRule bool) ([]clause, error) {
	out := make([]clause, 0, len(xs))
	for _, x := range xs {
		c, err := parseClause(x, vt, inRule)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseClause(x any, vt *varTable, inRule bool) (clause, error) {
	if v, ok := asVec(x); ok {
		if len(v) == 0 {
			return nil, errorf(x, ErrMalformed, "empty clause")
		}
		if call, ok := v[0].(edn.List); ok {
			return parseFnClause(x, call, v[1:], vt)
		}
		pc := &patternClause{clauseBase: clauseBase{x}, src: "$"}
		if s, ok := isSrc(v[0]); ok {
			pc.src = s
			v = v[1:]
		}
		if len(v) == 0 || len(v) > 5 {
			return nil, errorf(x, ErrMalformed, "a data pattern has 1 to 5 elements")
		}
		for _, y := range v {
			pc.terms = append(pc.terms, parseTerm(y, vt, false))
		}
		return pc, nil
	}
	l, ok := x.(edn.List)
	if !ok || len(l) == 0 {
		return nil, errorf(x, ErrMalformed, "a clause is a pattern [...], a function [(f ...)] or a list (rule, not, or)")
	}
	src := edn.Symbol("")
	if s, ok := isSrc(l[0]); ok {
		src = s
		l = l[1:]
		if len(l) == 0 {
			return nil, errorf(x, ErrMalformed, "source prefix without a clause")
		}
	}
	head, ok := l[0].(edn.Symbol)
	if !ok {
		return nil, errorf(x, ErrMalformed, "a list clause starts with not, not-join, or, or-join or a rule name")
	}
	switch head {
	case "not", "not-join":
		nc := &notClause{clauseBase: clauseBase{x}, src: src}
		body := l[1:]
		if head == "not-join" {
			if len(body) == 0 {
				return nil, errorf(x, ErrMalformed, "not-join needs a variable vector")
			}
			vars, ok := asVec(body[0])
			if !ok {
				return nil, errorf(x, ErrMalformed, "not-join needs a variable vector")
			}
			for _, y := range vars {
				s, ok := isVar(y)
				if !ok {
					return nil, errorf(x, ErrMalformed, "not-join's vector holds variables")
				}
				nc.join = append(nc.join, vt.slot(s))
			}
			nc.explicit = true
			body = body[1:]
		}
		if len(body) == 0 {
			return nil, errorf(x, ErrMalformed, "%s needs at least one clause", head)
		}
		cs, err := parseClauses(body, vt, inRule)
		if err != nil {
			return nil, err
		}
		if src != "" {
			cs = withDefaultSource(cs, src)
		}
		nc.body = cs
		return nc, nil
	case "or", "or-join":
		oc := &orClause{clauseBase: clauseBase{x}, src: src}
		body := l[1:]
		if head == "or-join" {
			if len(body) == 0 {
				return nil, errorf(x, ErrMalformed, "or-join needs a variable vector")
			}
			vars, ok := asVec(body[0])
			if !ok {
				return nil, errorf(x, ErrMalformed, "or-join needs a variable vector")
			}
			for i, y := range vars {
				if req, ok := asVec(y); ok && i == 0 {
					for _, r := range req {
						s, ok := isVar(r)
						if !ok {
							return nil, errorf(x, ErrMalformed, "or-join's required vector holds variables")
						}
						oc.required = append(oc.required, vt.slot(s))
						oc.join = append(oc.join, vt.slot(s))
					}
					continue
				}
				s, ok := isVar(y)
				if !ok {
					return nil, errorf(x, ErrMalformed, "or-join's vector holds variables")
				}
				oc.join = append(oc.join, vt.slot(s))
			}
			oc.explicit = true
			body = body[1:]
		}
		if len(body) == 0 {
			return nil, errorf(x, ErrMalformed, "%s needs at least one branch", head)
		}
		for _, b := range body {
			var cs []clause
			if bl, ok := b.(edn.List); ok && len(bl) > 0 && isSym(bl[0], "and") {
				if len(bl) == 1 {
					return nil, errorf(b, ErrMalformed, "and needs at least one clause")
				}
				var err error
				if cs, err = parseClauses(bl[1:], vt, inRule); err != nil {
					return nil, err
				}
			} else {
				c, err := parseClause(b, vt, inRule)
				if err != nil {
					return nil, err
				}
				cs = []clause{c}
			}
			if src != "" {
				cs = withDefaultSource(cs, src)
			}
			oc.branches = append(oc.branches, cs)
		}
		return oc, nil
	case "and":
		return nil, errorf(x, ErrMalformed, "and is only allowed inside or")
	}
	if strings.HasPrefix(string(head), "?") || head == "_" {
		return nil, errorf(x, ErrMalformed, "a rule name must not be a variable")
	}
	rc := &ruleCall{clauseBase: clauseBase{x}, src: src, name: head}
	if rc.src == "" {
		rc.src = "$"
	}
	for _, y := range l[1:] {
		rc.args = append(rc.args, parseTerm(y, vt, false))
	}
	return rc, nil
}

// withDefaultSource makes clauses that use the implicit $ use src instead,
// for ($src not …) and ($src or …).
func withDefaultSource(cs []clause, src edn.Symbol) []clause {
	for _, c := range cs {
		switch x := c.(type) {
		case *patternClause:
			if x.src == "$" {
				if v, ok := asVec(x.form); !ok || len(v) == 0 || !isSym(v[0], "$") {
					x.src = src
				}
			}
		case *ruleCall:
			if x.src == "$" {
				x.src = src
			}
		case *notClause:
			if x.src == "" {
				x.body = withDefaultSource(x.body, src)
			}
		case *orClause:
			if x.src == "" {
				for i := range x.branches {
					x.branches[i] = withDefaultSource(x.branches[i], src)
				}
			}
		}
	}
	return cs
}

func parseFnClause(form any, call edn.List, rest []any, vt *varTable) (clause, error) {
	if len(call) == 0 {
		return nil, errorf(form, ErrMalformed, "empty function call")
	}
	fn, ok := call[0].(edn.Symbol)
	if !ok {
		return nil, errorf(form, ErrMalformed, "a function name must be a symbol")
	}
	fc := &fnClause{clauseBase: clauseBase{form}, fn: fn}
	for _, a := range call[1:] {
		fc.args = append(fc.args, parseTerm(a, vt, true))
	}
	switch len(rest) {
	case 0:
	case 1:
		b, err := parseBinding(rest[0], vt)
		if err != nil {
			return nil, errorf(form, ErrMalformed, "bad binding form %s", qString(rest[0]))
		}
		fc.bind = b
	default:
		return nil, errorf(form, ErrMalformed, "a function clause is [(f args...) binding?]")
	}
	return fc, nil
}

// clauseVars lists every variable of c, including the local variables of
// not and or bodies.
func clauseVars(c clause, add func(int)) {
	switch x := c.(type) {
	case *patternClause:
		termVars(x.terms, add)
	case *fnClause:
		termVars(x.args, add)
		if x.bind != nil {
			termVars(x.bind.terms, add)
		}
	case *ruleCall:
		termVars(x.args, add)
	case *notClause:
		for _, b := range x.body {
			clauseVars(b, add)
		}
	case *orClause:
		for _, br := range x.branches {
			for _, b := range br {
				clauseVars(b, add)
			}
		}
	}
}

func termVars(ts []term, add func(int)) {
	for _, t := range ts {
		if t.kind == termVar {
			add(t.slot)
		}
	}
}

// exposedVars lists the variables that are bound once c has run.
func exposedVars(c clause) []int {
	var out []int
	switch x := c.(type) {
	case *notClause:
		return nil
	case *orClause:
		return x.join
	default:
		clauseVars(c, func(s int) { out = append(out, s) })
	}
	return out
}

// resolveJoins computes the join variables of plain not and or clauses:
// the variables of their bodies visible outside (outer, plus what the
// sibling clauses use), and recurses into their bodies. It also checks that
// every branch of an or can bind every join variable.
func resolveJoins(cs []clause, outer map[int]bool, vt *varTable) error {
	for i, c := range cs {
		switch x := c.(type) {
		case *notClause, *orClause:
			ctx := map[int]bool{}
			for k := range outer {
				ctx[k] = true
			}
			for j, o := range cs {
				if j != i {
					clauseVars(o, func(s int) { ctx[s] = true })
				}
			}
			if n, ok := x.(*notClause); ok {
				if !n.explicit {
					seen := map[int]bool{}
					clauseVars(n, func(s int) {
						if ctx[s] && !seen[s] {
							seen[s] = true
							n.join = append(n.join, s)
						}
					})
				}
				inner := map[int]bool{}
				for _, s := range n.join {
					inner[s] = true
				}
				if err := resolveJoins(n.body, inner, vt); err != nil {
					return err
				}
				continue
			}
			o := x.(*orClause)
			if !o.explicit {
				seen := map[int]bool{}
				clauseVars(o, func(s int) {
					if ctx[s] && !seen[s] {
						seen[s] = true
						o.join = append(o.join, s)
					}
				})
			}
			inner := map[int]bool{}
			for _, s := range o.join {
				inner[s] = true
			}
			for _, br := range o.branches {
				has := map[int]bool{}
				for _, b := range br {
					clauseVars(b, func(s int) { has[s] = true })
				}
				for _, s := range o.join {
					if !has[s] && !contains(o.required, s) {
						return errorf(o.form, ErrUnboundVariable, "a branch of or does not use join variable %s", vt.names[s])
					}
				}
				if err := resolveJoins(br, inner, vt); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
