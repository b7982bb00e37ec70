package query

import (
	"fmt"
	"strings"

	"github.com/accretedb/accrete/edn"
)

// DefaultPullLimit is how many values pull returns for a cardinality-many
// attribute (or a non-component reverse reference) when the pattern gives
// no :limit, as in Datomic. An explicit `:limit nil` lifts it.
const DefaultPullLimit = 1000

// pullPatternErr reports a malformed part of a pull pattern: an *Error naming
// the part, wrapping ErrMalformed.
func pullPatternErr(part any, format string, args ...any) error {
	return errorf(part, ErrMalformed, "pull pattern: "+format, args...)
}

// PullPattern is a parsed and validated pull pattern. It does not depend on a
// database: the attributes it names are resolved against each Source's
// schema when it is applied (and the resolution of the last schema seen is
// cached), so one PullPattern may be reused across sources, points in time
// and goroutines. A PullPattern is immutable and safe for concurrent use.
type PullPattern struct {
	wildcard bool
	specs    []*pullSpec
	text     string // the pattern as written, for error messages

	bound pullBindCache
}

// pullSpec is one attribute of a pattern with its options.
type pullSpec struct {
	name     edn.Keyword // as written, e.g. :person/_friend
	attr     edn.Keyword // the attribute: :person/friend
	reverse  bool
	dbID     bool        // the pseudo-attribute :db/id
	key      edn.Keyword // result key: name, or the :as option
	limit    int         // 0: DefaultPullLimit; -1: no limit
	def      any
	hasDef   bool
	sub      *PullPattern // nested pattern, nil if none
	recurse  bool         // recursion: re-apply the enclosing pattern
	maxDepth int          // recursion depth; 0 means unbounded (...)
	part     any          // the element as written, for errors
}

// String returns the pattern as it was written (or a canonical EDN rendering
// when it was given as Go data).
func (p *PullPattern) String() string { return p.text }

// ParsePull parses and validates a pull pattern given either as EDN text
// (a string or []byte) or as an already-read EDN value (edn.Vector, or a Go
// []any of the same shapes). The grammar is Datomic's:
//
//	pattern         = [attr-spec+]
//	attr-spec       = attr-name | wildcard | map-spec | attr-with-opts | attr-expr
//	attr-name       = keyword, :ns/_name for a reverse reference, :db/id
//	wildcard        = * or "*"
//	map-spec        = { ((attr-name | attr-with-opts | attr-expr) (pattern | recursion-limit))+ }
//	attr-with-opts  = [attr-name attr-option+] or (attr-name attr-option+)
//	attr-option     = :as keyword-or-string | :limit (positive-number | nil) | :default any-value
//	recursion-limit = positive-number | ...
//	attr-expr       = (limit attr-name (positive-number | nil)) | (default attr-name any-value)
//
// Results are maps keyed by edn.Keyword, so an :as value must be a keyword,
// a string or a symbol; a string or symbol "x" becomes the key Keyword("x").
// Errors are *Error values naming the offending element and wrapping
// ErrMalformed.
func ParsePull(pattern any) (*PullPattern, error) {
	switch t := pattern.(type) {
	case *PullPattern:
		return t, nil
	case string:
		v, err := qReadEDN(t)
		if err != nil {
			return nil, fmt.Errorf("query: pull pattern: %w", err)
		}
		p, err := parsePullPattern(v)
		if err != nil {
			return nil, err
		}
		p.text = strings.TrimSpace(t)
		return p, nil
	case []byte:
		return ParsePull(string(t))
	}
	p, err := parsePullPattern(pattern)
	if err != nil {
		return nil, err
	}
	p.text = qString(pattern)
	return p, nil
}

// MustParsePull is ParsePull for patterns known to be valid, such as
// constants in a program; it panics on error.
func MustParsePull(pattern any) *PullPattern {
	p, err := ParsePull(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// pullSeq returns the elements of a vector or list (and of Go slices of any).
func pullSeq(v any) ([]any, bool) {
	switch t := v.(type) {
	case edn.Vector:
		return t, true
	case edn.List:
		return t, true
	case []any:
		return t, true
	}
	return nil, false
}

func pullIsVector(v any) bool {
	switch v.(type) {
	case edn.Vector, []any:
		return true
	}
	return false
}

func parsePullPattern(v any) (*PullPattern, error) {
	if !pullIsVector(v) {
		return nil, pullPatternErr(v, "a pattern must be a vector of attribute specs")
	}
	elems, _ := pullSeq(v)
	if len(elems) == 0 {
		return nil, pullPatternErr(v, "a pattern must name at least one attribute")
	}
	p := &PullPattern{text: qString(v)}
	for _, el := range elems {
		if pullIsWildcard(el) {
			p.wildcard = true
			continue
		}
		switch t := el.(type) {
		case edn.Map:
			for _, e := range t {
				s, err := parsePullMapEntry(e.Key, e.Val)
				if err != nil {
					return nil, err
				}
				p.specs = append(p.specs, s)
			}
		case map[any]any:
			return nil, pullPatternErr(el, "use edn.Map for map specs (Go maps have no order)")
		default:
			s, err := parsePullAttrSpec(el)
			if err != nil {
				return nil, err
			}
			p.specs = append(p.specs, s)
		}
	}
	return p, nil
}

func pullIsWildcard(v any) bool {
	switch t := v.(type) {
	case edn.Symbol:
		return t == "*"
	case string:
		return t == "*"
	}
	return false
}

// parsePullAttrSpec parses attr-name, attr-with-opts or attr-expr.
func parsePullAttrSpec(el any) (*pullSpec, error) {
	switch t := el.(type) {
	case edn.Keyword:
		return newPullSpec(t, el)
	case edn.Vector, edn.List, []any:
		elems, _ := pullSeq(t)
		if len(elems) == 0 {
			return nil, pullPatternErr(el, "empty attribute expression")
		}
		if sym, ok := pullLegacyOp(elems[0]); ok {
			return parsePullLegacy(sym, elems, el)
		}
		pkw, ok := elems[0].(edn.Keyword)
		if !ok {
			return nil, pullPatternErr(el, "an attribute expression must start with an attribute keyword, limit or default")
		}
		s, err := newPullSpec(pkw, el)
		if err != nil {
			return nil, err
		}
		opts := elems[1:]
		if len(opts) == 0 {
			return nil, pullPatternErr(el, "attribute %s has no options", pkw)
		}
		if len(opts)%2 != 0 {
			return nil, pullPatternErr(el, "options must come in pairs (:as x, :limit n, :default v)")
		}
		for i := 0; i < len(opts); i += 2 {
			if err := s.setOption(opts[i], opts[i+1], el); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	return nil, pullPatternErr(el, "not an attribute spec (want a keyword, *, a map, [attr options...] or (limit|default ...))")
}

// pullLegacyOp recognizes the operator of (limit ...) and (default ...),
// written as a symbol or a string.
func pullLegacyOp(v any) (string, bool) {
	var s string
	switch t := v.(type) {
	case edn.Symbol:
		s = string(t)
	case string:
		s = t
	default:
		return "", false
	}
	if s == "limit" || s == "default" {
		return s, true
	}
	return "", false
}

func parsePullLegacy(op string, elems []any, el any) (*pullSpec, error) {
	if len(elems) != 3 {
		return nil, pullPatternErr(el, "(%s attr value) takes exactly two arguments", op)
	}
	pkw, ok := elems[1].(edn.Keyword)
	if !ok {
		return nil, pullPatternErr(el, "%s: %s is not an attribute keyword", op, qString(elems[1]))
	}
	s, err := newPullSpec(pkw, el)
	if err != nil {
		return nil, err
	}
	if err := s.setOption(edn.Keyword(op), elems[2], el); err != nil {
		return nil, err
	}
	return s, nil
}

func newPullSpec(pkw edn.Keyword, part any) (*pullSpec, error) {
	if pkw == "" {
		return nil, pullPatternErr(part, "empty attribute name")
	}
	s := &pullSpec{name: pkw, attr: pkw, key: pkw, part: part}
	if pkw == "db/id" {
		s.dbID = true
		return s, nil
	}
	if name := pkw.Name(); strings.HasPrefix(name, "_") && len(name) > 1 {
		s.reverse = true
		if ns := pkw.Namespace(); ns != "" {
			s.attr = edn.Keyword(ns + "/" + name[1:])
		} else {
			s.attr = edn.Keyword(name[1:])
		}
	}
	return s, nil
}

func (s *pullSpec) setOption(k, v any, part any) error {
	var opt edn.Keyword
	switch t := k.(type) {
	case edn.Keyword:
		opt = t
	case edn.Symbol:
		opt = edn.Keyword(t)
	case string:
		opt = edn.Keyword(t)
	default:
		return pullPatternErr(part, "%s is not an option name (:as, :limit, :default)", qString(k))
	}
	switch opt {
	case "as":
		switch t := v.(type) {
		case edn.Keyword:
			s.key = t
		case string:
			s.key = edn.Keyword(t)
		case edn.Symbol:
			s.key = edn.Keyword(t)
		default:
			return pullPatternErr(part, ":as %s: results are keyed by keyword, so :as takes a keyword, string or symbol", qString(v))
		}
		if s.key == "" {
			return pullPatternErr(part, ":as needs a non-empty name")
		}
	case "limit":
		if s.dbID {
			return pullPatternErr(part, ":limit does not apply to :db/id")
		}
		if v == nil {
			s.limit = -1
			return nil
		}
		n, ok := pullPositiveInt(v)
		if !ok {
			return pullPatternErr(part, ":limit %s: want a positive number or nil", qString(v))
		}
		s.limit = n
	case "default":
		if s.dbID {
			return pullPatternErr(part, ":default does not apply to :db/id")
		}
		s.def, s.hasDef = v, true
	default:
		return pullPatternErr(part, "unknown option %s (want :as, :limit or :default)", qString(k))
	}
	return nil
}

func pullPositiveInt(v any) (int, bool) {
	var n int64
	switch t := v.(type) {
	case int64:
		n = t
	case int:
		n = int64(t)
	case int32:
		n = int64(t)
	default:
		return 0, false
	}
	if n <= 0 || n > 1<<31 {
		return 0, false
	}
	return int(n), true
}

// parsePullMapEntry parses one entry of a map-spec: the key is attr-name,
// attr-with-opts or attr-expr; the value a pattern or a recursion limit.
func parsePullMapEntry(k, v any) (*pullSpec, error) {
	s, err := parsePullAttrSpec(k)
	if err != nil {
		return nil, err
	}
	part := edn.Map{{Key: k, Val: v}}
	s.part = part
	if s.dbID {
		return nil, pullPatternErr(part, ":db/id cannot have a nested pattern")
	}
	switch t := v.(type) {
	case edn.Symbol:
		if t != "..." {
			return nil, pullPatternErr(part, "recursion limit %s: want a positive number or ...", t)
		}
		s.recurse = true
	case int64, int, int32:
		n, ok := pullPositiveInt(t)
		if !ok {
			return nil, pullPatternErr(part, "recursion limit %s: want a positive number or ...", qString(v))
		}
		s.recurse, s.maxDepth = true, n
	default:
		if !pullIsVector(v) {
			return nil, pullPatternErr(part, "the value of a map spec must be a pattern vector, a positive number or ...")
		}
		sub, err := parsePullPattern(v)
		if err != nil {
			return nil, err
		}
		s.sub = sub
	}
	return s, nil
}
