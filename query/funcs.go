package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Func is a user function callable in :where as a predicate [(f ?x)] or a
// function expression [(f ?x) ?y]. It receives the argument values (a
// source argument $ arrives as the Source) and returns the result: for a
// predicate, nil and false reject the row; for a function, a nil result
// drops the row. A Func MUST be safe for concurrent use and MUST NOT keep
// args. An error aborts the query (wrapped in ErrFunction), and so does a
// panic, recovered into such an error.
type Func func(args []any) (any, error)

// AggregateFunc is a user aggregate callable in :find as (name consts… ?x).
// consts are the constant arguments before the variable; vals are the
// variable's values in the group (a bag: one per distinct basis tuple).
// An error or a panic aborts the query, as a Func's does.
type AggregateFunc func(consts []any, vals []any) (any, error)

// Funcs holds user functions and aggregates, looked up by symbol before the
// built-ins, so a user may also override a built-in. The zero value is
// ready to use. Register everything before the first query that uses the
// Funcs; after that it is read-only and safe for concurrent use.
type Funcs struct {
	fns  map[edn.Symbol]Func
	aggs map[edn.Symbol]AggregateFunc
}

// Register makes fn callable as name in :where clauses.
func (f *Funcs) Register(name string, fn Func) {
	if f.fns == nil {
		f.fns = map[edn.Symbol]Func{}
	}
	f.fns[edn.Symbol(name)] = fn
}

// RegisterAggregate makes agg callable as name in :find.
func (f *Funcs) RegisterAggregate(name string, agg AggregateFunc) {
	if f.aggs == nil {
		f.aggs = map[edn.Symbol]AggregateFunc{}
	}
	f.aggs[edn.Symbol(name)] = agg
}

// builtin is a built-in function; it may read sources through ex.
type builtin func(ex *exec, args []any) (any, error)

var errNotNumber = errors.New("argument is not a number")

// builtins is the table of Datomic's built-in functions and predicates.
// It is the package's only global and is never modified after init.
var builtins map[edn.Symbol]builtin

func init() {
	builtins = map[edn.Symbol]builtin{
		"=":          pure(func(a []any) (any, error) { return chainEq(a, clojureEq), nil }),
		"==":         pure(func(a []any) (any, error) { return chainEq(a, numEq), nil }),
		"not=":       pure(func(a []any) (any, error) { return !chainEq(a, clojureEq), nil }),
		"!=":         pure(func(a []any) (any, error) { return !chainEq(a, clojureEq), nil }),
		"<":          cmpChain(func(c int) bool { return c < 0 }),
		">":          cmpChain(func(c int) bool { return c > 0 }),
		"<=":         cmpChain(func(c int) bool { return c <= 0 }),
		">=":         cmpChain(func(c int) bool { return c >= 0 }),
		"+":          arith('+'),
		"-":          arith('-'),
		"*":          arith('*'),
		"/":          arith('/'),
		"quot":       intOp("quot"),
		"rem":        intOp("rem"),
		"mod":        intOp("mod"),
		"inc":        unaryArith(1),
		"dec":        unaryArith(-1),
		"max":        extreme(1),
		"min":        extreme(-1),
		"abs":        fixed(1, func(a []any) (any, error) { return numAbs(a[0]) }),
		"zero?":      numPred(func(c int) bool { return c == 0 }),
		"pos?":       numPred(func(c int) bool { return c > 0 }),
		"neg?":       numPred(func(c int) bool { return c < 0 }),
		"even?":      fixed(1, func(a []any) (any, error) { return parity(a[0], 0) }),
		"odd?":       fixed(1, func(a []any) (any, error) { return parity(a[0], 1) }),
		"str":        pure(func(a []any) (any, error) { return strOf(a), nil }),
		"subs":       pure(subs),
		"re-find":    fixed(2, reFind),
		"re-matches": fixed(2, reMatches),
		"re-seq":     fixed(2, reSeq),
		"re-pattern": fixed(1, func(a []any) (any, error) { return toRegexp(a[0]) }),
		"ground":     fixed(1, func(a []any) (any, error) { return a[0], nil }),
		"identity":   fixed(1, func(a []any) (any, error) { return a[0], nil }),
		"tuple":      pure(func(a []any) (any, error) { return edn.Vector(append([]any(nil), a...)), nil }),
		"untuple":    fixed(1, untuple),
		"vector":     pure(func(a []any) (any, error) { return edn.Vector(append([]any(nil), a...)), nil }),
		"list":       pure(func(a []any) (any, error) { return edn.List(append([]any(nil), a...)), nil }),
		"count":      fixed(1, countOf),
		"true?":      fixed(1, func(a []any) (any, error) { return a[0] == true, nil }),
		"false?":     fixed(1, func(a []any) (any, error) { return a[0] == false, nil }),
		"nil?":       fixed(1, func(a []any) (any, error) { return a[0] == nil, nil }),
		"some?":      fixed(1, func(a []any) (any, error) { return a[0] != nil, nil }),
		"not":        fixed(1, func(a []any) (any, error) { return !truthy(a[0]), nil }),
		"boolean":    fixed(1, func(a []any) (any, error) { return truthy(a[0]), nil }),
		"compare":    fixed(2, func(a []any) (any, error) { return int64(compareValues(a[0], a[1])), nil }),
		"identical?": fixed(2, func(a []any) (any, error) { return valuesEqual(a[0], a[1]), nil }),
		"keyword":    pure(keywordOf),
		"name":       fixed(1, nameOf),
		"namespace":  fixed(1, namespaceOf),
		"contains?":  fixed(2, containsKey),
		"-differ?":   pure(differ),
		"clojure.string/blank?": fixed(1, func(a []any) (any, error) {
			s, ok := a[0].(string)
			return a[0] == nil || ok && strings.TrimSpace(s) == "", nil
		}),
		"clojure.string/includes?":    strPred(strings.Contains),
		"clojure.string/starts-with?": strPred(strings.HasPrefix),
		"clojure.string/ends-with?":   strPred(strings.HasSuffix),
		"clojure.string/lower-case":   strFn(strings.ToLower),
		"clojure.string/upper-case":   strFn(strings.ToUpper),
		"clojure.string/trim":         strFn(strings.TrimSpace),
		"get":                         pure(getIn),
		"rand-int":                    fixed(1, randInt),
		"rand":                        pure(randFloat),
		"and":                         pure(andOf),
		"or":                          pure(orOf),
		"empty?":                      fixed(1, emptyOf),
		"not-empty":                   fixed(1, notEmpty),
		"set":                         fixed(1, setOf),
		"hash-map":                    pure(mapOf),
		"array-map":                   pure(mapOf),
		"range":                       pure(rangeOf),
		"pr-str":                      pure(func(a []any) (any, error) { return prStr(a, true), nil }),
		"prn-str":                     pure(func(a []any) (any, error) { return prStr(a, true) + "\n", nil }),
		"print-str":                   pure(func(a []any) (any, error) { return prStr(a, false), nil }),
		"println-str":                 pure(func(a []any) (any, error) { return prStr(a, false) + "\n", nil }),
		"q":                           nestedQ,
		"tx-ids":                      txIDs,
		"tx-data":                     txData,
		"get-else":                    getElse,
		"get-some":                    getSome,
		"missing?":                    missing,
	}
}

func pure(f func([]any) (any, error)) builtin {
	return func(_ *exec, a []any) (any, error) { return f(a) }
}

func fixed(n int, f func([]any) (any, error)) builtin {
	return func(_ *exec, a []any) (any, error) {
		if len(a) != n {
			return nil, fmt.Errorf("%w: takes %d arguments, got %d", ErrArity, n, len(a))
		}
		return f(a)
	}
}

func truthy(v any) bool { return v != nil && v != false }

func chainEq(a []any, eq func(x, y any) bool) bool {
	for i := 1; i < len(a); i++ {
		if !eq(a[i-1], a[i]) {
			return false
		}
	}
	return true
}

func isNum(v any) bool {
	switch v.(type) {
	case int64, float64, *big.Int, *apd.Decimal:
		return true
	}
	return false
}

func numEq(x, y any) bool {
	return isNum(x) && isNum(y) && !unordered(x, y) && compareValues(x, y) == 0
}

// unordered reports whether x or y is NaN: as in Clojure, every order
// predicate (<, <=, >, >=, ==, pos?, neg?, zero?) is false of it, though
// compare, min, max and sorting put NaN above every number (compareValues).
func unordered(x, y any) bool { return isNaN(x) || isNaN(y) }

func isNaN(v any) bool {
	f, ok := v.(float64)
	return ok && f != f
}

func cmpChain(ok func(int) bool) builtin {
	return func(_ *exec, a []any) (any, error) {
		if len(a) == 0 {
			return nil, fmt.Errorf("%w: takes at least 1 argument", ErrArity)
		}
		for i := 1; i < len(a); i++ {
			if unordered(a[i-1], a[i]) || !ok(compareValues(a[i-1], a[i])) {
				return false, nil
			}
		}
		return true, nil
	}
}

// arith folds + - * / over int64 (checked for overflow) and float64; any
// float makes the result a float, and an inexact integer division too.
func arith(op byte) builtin {
	return func(_ *exec, a []any) (any, error) {
		if len(a) == 0 {
			switch op {
			case '+':
				return int64(0), nil
			case '*':
				return int64(1), nil
			}
			return nil, fmt.Errorf("%w: %c takes at least 1 argument", ErrArity, op)
		}
		acc := a[0]
		if !isNum(acc) {
			return nil, errNotNumber
		}
		if len(a) == 1 {
			switch op {
			case '-':
				return arith2('-', int64(0), acc)
			case '/':
				return arith2('/', int64(1), acc)
			}
			return acc, nil
		}
		for _, x := range a[1:] {
			var err error
			if acc, err = arith2(op, acc, x); err != nil {
				return nil, err
			}
		}
		return acc, nil
	}
}

func arith2(op byte, x, y any) (any, error) {
	xi, xok := x.(int64)
	yi, yok := y.(int64)
	if xok && yok {
		switch op {
		case '+':
			r := xi + yi
			if (r > xi) != (yi > 0) {
				return nil, errors.New("integer overflow")
			}
			return r, nil
		case '-':
			r := xi - yi
			if (r < xi) != (yi > 0) {
				return nil, errors.New("integer overflow")
			}
			return r, nil
		case '*':
			if xi != 0 && yi != 0 {
				r := xi * yi
				if r/yi != xi || (xi == -1 && yi == math.MinInt64) || (yi == -1 && xi == math.MinInt64) {
					return nil, errors.New("integer overflow")
				}
				return r, nil
			}
			return int64(0), nil
		case '/':
			if yi == 0 {
				return nil, errors.New("divide by zero")
			}
			if xi%yi == 0 {
				return xi / yi, nil
			}
			return float64(xi) / float64(yi), nil
		}
	}
	xf, ok1 := toFloat(x)
	yf, ok2 := toFloat(y)
	if !ok1 || !ok2 {
		return nil, errNotNumber
	}
	switch op {
	case '+':
		return xf + yf, nil
	case '-':
		return xf - yf, nil
	case '*':
		return xf * yf, nil
	}
	if yf == 0 {
		return nil, errors.New("divide by zero")
	}
	return xf / yf, nil
}

func unaryArith(d int64) builtin {
	return fixed(1, func(a []any) (any, error) { return arith2('+', a[0], d) })
}

func intOp(name string) builtin {
	return fixed(2, func(a []any) (any, error) {
		x, ok1 := a[0].(int64)
		y, ok2 := a[1].(int64)
		if !ok1 || !ok2 {
			xf, ok1 := toFloat(a[0])
			yf, ok2 := toFloat(a[1])
			if !ok1 || !ok2 {
				return nil, errNotNumber
			}
			if yf == 0 {
				return nil, errors.New("divide by zero")
			}
			switch name {
			case "quot":
				return math.Trunc(xf / yf), nil
			case "rem":
				return math.Mod(xf, yf), nil
			}
			m := math.Mod(xf, yf)
			if m != 0 && (m < 0) != (yf < 0) {
				m += yf
			}
			return m, nil
		}
		if y == 0 {
			return nil, errors.New("divide by zero")
		}
		switch name {
		case "quot":
			return x / y, nil
		case "rem":
			return x % y, nil
		}
		m := x % y
		if m != 0 && (m < 0) != (y < 0) {
			m += y
		}
		return m, nil
	})
}

func extreme(sign int) builtin {
	return func(_ *exec, a []any) (any, error) {
		if len(a) == 0 {
			return nil, fmt.Errorf("%w: takes at least 1 argument", ErrArity)
		}
		best := a[0]
		for _, x := range a[1:] {
			if compareValues(x, best)*sign > 0 {
				best = x
			}
		}
		return best, nil
	}
}

func numAbs(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return -x, nil
		}
		return x, nil
	case float64:
		return math.Abs(x), nil
	}
	return nil, errNotNumber
}

func numPred(ok func(int) bool) builtin {
	return fixed(1, func(a []any) (any, error) {
		if !isNum(a[0]) {
			return nil, errNotNumber
		}
		return !isNaN(a[0]) && ok(compareValues(a[0], int64(0))), nil
	})
}

func parity(v any, want int64) (any, error) {
	x, ok := v.(int64)
	if !ok {
		return nil, errors.New("argument is not an integer")
	}
	return x&1 == want, nil
}

// strOf is Clojure's str: nil prints as nothing, strings and characters as
// themselves, everything else as EDN.
func strOf(a []any) string {
	var b strings.Builder
	for _, x := range a {
		switch v := x.(type) {
		case nil:
		case string:
			b.WriteString(v)
		case edn.Char:
			b.WriteRune(rune(v))
		default:
			qWrite(&b, v)
		}
	}
	return b.String()
}

func subs(a []any) (any, error) {
	if len(a) != 2 && len(a) != 3 {
		return nil, fmt.Errorf("%w: subs takes 2 or 3 arguments", ErrArity)
	}
	s, ok := a[0].(string)
	if !ok {
		return nil, errors.New("subs: not a string")
	}
	r := []rune(s)
	start, ok := a[1].(int64)
	end := int64(len(r))
	if len(a) == 3 {
		e, ok2 := a[2].(int64)
		ok = ok && ok2
		end = e
	}
	if !ok || start < 0 || end > int64(len(r)) || start > end {
		return nil, errors.New("subs: index out of range")
	}
	return string(r[start:end]), nil
}

func toRegexp(v any) (*regexp.Regexp, error) {
	switch x := v.(type) {
	case *regexp.Regexp:
		return x, nil
	case string:
		return regexp.Compile(x)
	}
	return nil, errors.New("not a regex")
}

func matchResult(m []string) any {
	if m == nil {
		return nil
	}
	if len(m) == 1 {
		return m[0]
	}
	out := make(edn.Vector, len(m))
	for i, s := range m {
		out[i] = s
	}
	return out
}

func reFind(a []any) (any, error) {
	re, err := toRegexp(a[0])
	if err != nil {
		return nil, err
	}
	s, ok := a[1].(string)
	if !ok {
		return nil, errors.New("re-find: not a string")
	}
	return matchResult(re.FindStringSubmatch(s)), nil
}

func reMatches(a []any) (any, error) {
	re, err := toRegexp(a[0])
	if err != nil {
		return nil, err
	}
	s, ok := a[1].(string)
	if !ok {
		return nil, errors.New("re-matches: not a string")
	}
	full, err := regexp.Compile(`^(?:` + re.String() + `)$`)
	if err != nil {
		return nil, err
	}
	return matchResult(full.FindStringSubmatch(s)), nil
}

func reSeq(a []any) (any, error) {
	re, err := toRegexp(a[0])
	if err != nil {
		return nil, err
	}
	s, ok := a[1].(string)
	if !ok {
		return nil, errors.New("re-seq: not a string")
	}
	ms := re.FindAllStringSubmatch(s, -1)
	if len(ms) == 0 {
		return nil, nil
	}
	out := make(edn.List, len(ms))
	for i, m := range ms {
		out[i] = matchResult(m)
	}
	return out, nil
}

func untuple(a []any) (any, error) {
	if xs, ok := asSeq(a[0]); ok {
		return edn.Vector(xs), nil
	}
	return nil, errors.New("untuple: not a tuple")
}

func countOf(a []any) (any, error) {
	switch x := a[0].(type) {
	case nil:
		return int64(0), nil
	case string:
		return int64(utf8.RuneCountInString(x)), nil
	case edn.Map:
		return int64(len(x)), nil
	}
	if xs, ok := asSeq(a[0]); ok {
		return int64(len(xs)), nil
	}
	return nil, errors.New("count: not a collection")
}

func keywordOf(a []any) (any, error) {
	switch len(a) {
	case 1:
		switch x := a[0].(type) {
		case string:
			return edn.Keyword(x), nil
		case edn.Keyword:
			return x, nil
		case edn.Symbol:
			return edn.Keyword(x), nil
		}
	case 2:
		ns, ok1 := a[0].(string)
		n, ok2 := a[1].(string)
		if ok1 && ok2 {
			if ns == "" {
				return edn.Keyword(n), nil
			}
			return edn.Keyword(ns + "/" + n), nil
		}
	default:
		return nil, fmt.Errorf("%w: keyword takes 1 or 2 arguments", ErrArity)
	}
	return nil, errors.New("keyword: bad argument")
}

func nameOf(a []any) (any, error) {
	switch x := a[0].(type) {
	case string:
		return x, nil
	case edn.Keyword:
		return x.Name(), nil
	case edn.Symbol:
		return x.Name(), nil
	}
	return nil, errors.New("name: not a keyword, symbol or string")
}

func namespaceOf(a []any) (any, error) {
	var ns string
	switch x := a[0].(type) {
	case edn.Keyword:
		ns = x.Namespace()
	case edn.Symbol:
		ns = x.Namespace()
	default:
		return nil, errors.New("namespace: not a keyword or symbol")
	}
	if ns == "" {
		return nil, nil
	}
	return ns, nil
}

func containsKey(a []any) (any, error) {
	switch c := a[0].(type) {
	case edn.Map:
		_, ok := c.Get(a[1])
		return ok, nil
	case edn.Set:
		for _, x := range c {
			if valuesEqual(x, a[1]) {
				return true, nil
			}
		}
		return false, nil
	case nil:
		return false, nil
	}
	if xs, ok := asSeq(a[0]); ok {
		i, isInt := a[1].(int64)
		return isInt && i >= 0 && i < int64(len(xs)), nil
	}
	return nil, errors.New("contains?: not a collection")
}

func differ(a []any) (any, error) {
	if len(a)%2 != 0 {
		return nil, fmt.Errorf("%w: -differ? takes an even number of arguments", ErrArity)
	}
	h := len(a) / 2
	for i := 0; i < h; i++ {
		if !valuesEqual(a[i], a[h+i]) {
			return true, nil
		}
	}
	return false, nil
}

func strPred(f func(s, sub string) bool) builtin {
	return fixed(2, func(a []any) (any, error) {
		s, ok1 := a[0].(string)
		t, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return nil, errors.New("not a string")
		}
		return f(s, t), nil
	})
}

func strFn(f func(string) string) builtin {
	return fixed(1, func(a []any) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return nil, errors.New("not a string")
		}
		return f(s), nil
	})
}

// srcAttrArgs checks the ($ ?e :attr…) arguments of get-else, get-some
// and missing?.
func srcEntity(ex *exec, a []any, name string) (*dbSrc, datom.ID, bool, error) {
	if len(a) < 3 {
		return nil, 0, false, fmt.Errorf("%w: %s takes a source, an entity and an attribute", ErrArity, name)
	}
	src, ok := a[0].(*dbSrc)
	if !ok {
		return nil, 0, false, fmt.Errorf("%s: first argument must be a database source", name)
	}
	e, ok := src.entity(ex, a[1])
	return src, e, ok, nil
}

// firstValue returns the first value of attribute attr on entity e.
func firstValue(ex *exec, src *dbSrc, e datom.ID, attr any) (any, bool, *datom.Attribute, error) {
	at := src.attr(attr)
	if at == nil {
		return nil, false, nil, fmt.Errorf("unknown attribute %s", qString(attr))
	}
	var v any
	found := false
	err := src.s.Datoms(ex.ctx, datom.EAVT, []any{e, at.ID}, func(d datom.Datom) bool {
		if d.Added {
			v, found = d.V, true
			return false
		}
		return true
	})
	return v, found, at, err
}

func getElse(ex *exec, a []any) (any, error) {
	if len(a) != 4 {
		return nil, fmt.Errorf("%w: get-else takes $, ?e, :attr and a default", ErrArity)
	}
	src, e, ok, err := srcEntity(ex, a, "get-else")
	if err != nil {
		return nil, err
	}
	if a[3] == nil {
		return nil, errors.New("get-else: the default must not be nil")
	}
	if !ok {
		return a[3], nil
	}
	if at := src.attr(a[2]); at != nil && at.Cardinality == datom.CardinalityMany {
		return nil, errors.New("get-else: attribute must be cardinality one")
	}
	v, found, _, err := firstValue(ex, src, e, a[2])
	if err != nil {
		return nil, err
	}
	if !found {
		return a[3], nil
	}
	return v, nil
}

func getSome(ex *exec, a []any) (any, error) {
	src, e, ok, err := srcEntity(ex, a, "get-some")
	if err != nil || !ok {
		return nil, err
	}
	for _, attr := range a[2:] {
		v, found, at, err := firstValue(ex, src, e, attr)
		if err != nil {
			return nil, err
		}
		if found {
			return edn.Vector{at.Ident, v}, nil
		}
	}
	return nil, nil
}

func missing(ex *exec, a []any) (any, error) {
	if len(a) != 3 {
		return nil, fmt.Errorf("%w: missing? takes $, ?e and :attr", ErrArity)
	}
	src, e, ok, err := srcEntity(ex, a, "missing?")
	if err != nil {
		return nil, err
	}
	if !ok {
		return true, nil
	}
	_, found, _, err := firstValue(ex, src, e, a[2])
	return !found, err
}

// getIn is Clojure's get on maps and vectors: (get coll key) or
// (get coll key default).
func getIn(a []any) (any, error) {
	if len(a) != 2 && len(a) != 3 {
		return nil, fmt.Errorf("%w: get takes 2 or 3 arguments", ErrArity)
	}
	var def any
	if len(a) == 3 {
		def = a[2]
	}
	switch c := a[0].(type) {
	case edn.Map:
		if v, ok := c.Get(a[1]); ok {
			return v, nil
		}
		return def, nil
	case map[edn.Keyword]any:
		if k, ok := a[1].(edn.Keyword); ok {
			if v, ok := c[k]; ok {
				return v, nil
			}
		}
		return def, nil
	}
	if xs, ok := asSeq(a[0]); ok {
		if i, ok := a[1].(int64); ok && i >= 0 && i < int64(len(xs)) {
			return xs[i], nil
		}
	}
	return def, nil
}

// randFloat is rand: a double in [0, 1), or in [0, n) for (rand n).
func randFloat(a []any) (any, error) {
	switch len(a) {
	case 0:
		return rand.Float64(), nil
	case 1:
		n, ok := toFloat(a[0])
		if !ok {
			return nil, fmt.Errorf("rand: the bound %s is not a number", qString(a[0]))
		}
		return rand.Float64() * n, nil
	}
	return nil, fmt.Errorf("%w: rand takes 0 or 1 arguments, got %d", ErrArity, len(a))
}

// andOf and orOf are Clojure's and and or over values: and gives the first
// false or nil argument, else the last (true when there is none); or gives
// the first argument that is neither, else the last (nil when none).
func andOf(a []any) (any, error) {
	var v any = true
	for _, v = range a {
		if !truthy(v) {
			return v, nil
		}
	}
	return v, nil
}

func orOf(a []any) (any, error) {
	var v any
	for _, v = range a {
		if truthy(v) {
			return v, nil
		}
	}
	return v, nil
}

// emptyOf is empty?: whether a collection or string has no elements
// (nil is empty).
func emptyOf(a []any) (any, error) {
	n, err := countOf(a)
	if err != nil {
		return nil, fmt.Errorf("empty?: %s is not a collection", qString(a[0]))
	}
	return n == int64(0), nil
}

// notEmpty is not-empty: the collection itself, or nil when it is empty.
func notEmpty(a []any) (any, error) {
	n, err := countOf(a)
	if err != nil {
		return nil, fmt.Errorf("not-empty: %s is not a collection", qString(a[0]))
	}
	if n == int64(0) {
		return nil, nil
	}
	return a[0], nil
}

// setOf is set: the distinct elements of a collection (a map's entries as
// [key value] vectors), in the order first seen.
func setOf(a []any) (any, error) {
	var xs []any
	switch c := a[0].(type) {
	case nil:
	case edn.Map:
		for _, e := range c {
			xs = append(xs, edn.Vector{e.Key, e.Val})
		}
	default:
		var ok bool
		if xs, ok = asSeq(c); !ok {
			return nil, fmt.Errorf("set: %s is not a collection", qString(a[0]))
		}
	}
	return edn.Set(distinctValues(xs)), nil
}

// mapOf is hash-map and array-map: a map of the key-value pairs given, in
// order, a later value of a key replacing the earlier in its place.
func mapOf(a []any) (any, error) {
	if len(a)%2 != 0 {
		return nil, fmt.Errorf("%w: hash-map and array-map take key-value pairs, got %d arguments", ErrArity, len(a))
	}
	out := edn.Map{}
	for i := 0; i < len(a); i += 2 {
		j := slices.IndexFunc(out, func(e edn.MapEntry) bool { return valuesEqual(e.Key, a[i]) })
		if j >= 0 {
			out[j].Val = a[i+1]
			continue
		}
		out = append(out, edn.MapEntry{Key: a[i], Val: a[i+1]})
	}
	return out, nil
}

// rangeMax bounds what range materializes: Clojure's range is lazy, a
// query's values are not.
const rangeMax = 1 << 24

// rangeOf is range over integers: (range end), (range start end) or
// (range start end step), as a vector (bind it with [?x ...]).
func rangeOf(a []any) (any, error) {
	if len(a) < 1 || len(a) > 3 {
		return nil, fmt.Errorf("%w: range takes 1 to 3 arguments (an endless range has no end to stop at), got %d", ErrArity, len(a))
	}
	var n [3]int64
	for i, x := range a {
		v, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("range: argument %d, %s, is not an integer", i+1, qString(x))
		}
		n[i] = v
	}
	start, end, step := int64(0), n[0], int64(1)
	if len(a) >= 2 {
		start, end = n[0], n[1]
	}
	if len(a) == 3 {
		step = n[2]
	}
	// The differences in uint64, where they cannot overflow.
	var count uint64
	steps := func(d, s uint64) uint64 {
		if d%s != 0 {
			return d/s + 1
		}
		return d / s
	}
	switch {
	case step > 0 && end > start:
		count = steps(uint64(end)-uint64(start), uint64(step))
	case step < 0 && end < start:
		count = steps(uint64(start)-uint64(end), -uint64(step))
	case step == 0 && end != start:
		return nil, errors.New("range: a step of 0 never reaches the end")
	}
	if count > rangeMax {
		return nil, fmt.Errorf("range: %d elements, more than the %d a query materializes", count, rangeMax)
	}
	out := make(edn.Vector, count)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

// prStr is pr-str (readably: strings quoted, as EDN) and print-str (strings
// and characters as they are): the arguments separated by spaces.
func prStr(a []any, readably bool) string {
	var b strings.Builder
	for i, x := range a {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch v := x.(type) {
		case string:
			if !readably {
				b.WriteString(v)
				continue
			}
		case edn.Char:
			if !readably {
				b.WriteRune(rune(v))
				continue
			}
		}
		qWrite(&b, x)
	}
	return b.String()
}

// nestedQ is q in :where (Datomic's nested query): (q query inputs…) runs
// query over the inputs, sources as they are bound in the outer query,
// with the outer query's options (user functions included), and gives its
// result in the shape its :find asks for.
func nestedQ(ex *exec, a []any) (any, error) {
	if len(a) < 1 {
		return nil, fmt.Errorf("%w: q takes a query and its inputs", ErrArity)
	}
	inputs := make([]any, len(a)-1)
	for i, x := range a[1:] {
		// A source argument arrives bound: hand q what was bound.
		switch s := x.(type) {
		case *dbSrc:
			x = s.s
		case *collSrc:
			x = s.tuples
		}
		inputs[i] = x
	}
	res, err := QWith(ex.ctx, ex.opts, a[0], inputs...)
	if err != nil {
		return nil, fmt.Errorf("q: %w", err)
	}
	return res, nil
}

// Log is a database's transaction log, as a query reads it with Datomic's
// log functions, given as an input (reader.DB.Log returns one):
//
//	[(tx-ids ?log ?t1 ?t2) [?tx ...]]             the transactions in [?t1, ?t2)
//	[(tx-data ?log ?tx) [[?e ?a ?v ?tx ?added]]]  the datoms of one
//
// A time point is a t, a transaction id, a time.Time or nil (the start, or
// the end, of the log); ?a binds the attribute's id.
type Log interface {
	// LogTxs calls fn with the entity id and datoms of each transaction
	// whose t is in [from, to), in order, until fn returns false.
	LogTxs(ctx context.Context, from, to any, fn func(tx datom.ID, datoms []datom.Datom) bool) error
}

func logArg(name string, v any) (Log, error) {
	l, ok := v.(Log)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not a transaction log (pass a log, such as reader.DB.Log(), as an input)", name, qString(v))
	}
	return l, nil
}

// txIDs is tx-ids: the entity ids of the transactions of a log between two
// time points, as a collection.
func txIDs(ex *exec, a []any) (any, error) {
	if len(a) != 3 {
		return nil, fmt.Errorf("%w: tx-ids takes a log, a start and an end", ErrArity)
	}
	l, err := logArg("tx-ids", a[0])
	if err != nil {
		return nil, err
	}
	out := edn.Vector{}
	err = l.LogTxs(ex.ctx, a[1], a[2], func(tx datom.ID, _ []datom.Datom) bool {
		out = append(out, tx)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("tx-ids: %w", err)
	}
	return out, nil
}

// txData is tx-data: the datoms of one transaction of a log (named by its
// t or entity id), as a relation of [e a v tx added].
func txData(ex *exec, a []any) (any, error) {
	if len(a) != 2 {
		return nil, fmt.Errorf("%w: tx-data takes a log and a transaction", ErrArity)
	}
	l, err := logArg("tx-data", a[0])
	if err != nil {
		return nil, err
	}
	t, ok := a[1].(int64)
	if !ok {
		return nil, fmt.Errorf("tx-data: the transaction %s is not a t or a transaction id", qString(a[1]))
	}
	if datom.Part(t) == datom.PartTx {
		t = datom.TxT(t)
	}
	out := Relation{}
	err = l.LogTxs(ex.ctx, t, t+1, func(_ datom.ID, ds []datom.Datom) bool {
		for _, d := range ds {
			out = append(out, []any{d.E, d.A, d.V, d.Tx, d.Added})
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("tx-data: %w", err)
	}
	return out, nil
}

func randInt(a []any) (any, error) {
	n, ok := a[0].(int64)
	if !ok || n <= 0 {
		return nil, errors.New("rand-int: the bound must be a positive integer")
	}
	return rand.Int64N(n), nil
}
