package query

import (
	"errors"
	"fmt"
	"strings"

	"github.com/accretedb/accrete/edn"
)

// DefaultPullLimit is how many values pull returns for a cardinality-many
// attribute (or a non-component reverse reference) when the pattern gives
// no :limit, as in Datomic. An explicit `:limit nil` lifts it.
const DefaultPullLimit = 1000

// ErrPullPattern is returned (wrapped in a *PullPatternError) by ParsePull,
// Pull and PullMany when a pull pattern is malformed or names attributes the
// database cannot pull as written (an unknown attribute, a nested pattern or
// a reverse reference on an attribute that is not a ref).
var ErrPullPattern = errors.New("invalid pull pattern")

// PullPatternError says which part of a pull pattern is wrong. It matches
// ErrPullPattern under errors.Is.
type PullPatternError struct {
	// Part is the offending element of the pattern, printed as EDN-like text.
	Part string
	// Msg says what is wrong with it.
	Msg string
}

// Error returns "query: pull pattern: <part>: <msg>".
func (e *PullPatternError) Error() string {
	return fmt.Sprintf("query: pull pattern: %s: %s", e.Part, e.Msg)
}

// Is makes errors.Is(err, ErrPullPattern) true.
func (e *PullPatternError) Is(target error) bool { return target == ErrPullPattern }

func patternErr(part any, format string, args ...any) error {
	return &PullPatternError{Part: ednString(part), Msg: fmt.Sprintf(format, args...)}
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

	bound boundCache
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
// Errors wrap ErrPullPattern in a *PullPatternError naming the offending
// element.
func ParsePull(pattern any) (*PullPattern, error) {
	switch t := pattern.(type) {
	case *PullPattern:
		return t, nil
	case string:
		v, err := readEDN(t)
		if err != nil {
			return nil, fmt.Errorf("query: pull pattern: %w", err)
		}
		p, err := parsePattern(v)
		if err != nil {
			return nil, err
		}
		p.text = strings.TrimSpace(t)
		return p, nil
	case []byte:
		return ParsePull(string(t))
	}
	p, err := parsePattern(pattern)
	if err != nil {
		return nil, err
	}
	p.text = ednString(pattern)
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

// asSlice returns the elements of a vector or list (and of Go slices of any).
func asSlice(v any) ([]any, bool) {
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

func isVector(v any) bool {
	switch v.(type) {
	case edn.Vector, []any:
		return true
	}
	return false
}

func parsePattern(v any) (*PullPattern, error) {
	if !isVector(v) {
		return nil, patternErr(v, "a pattern must be a vector of attribute specs")
	}
	elems, _ := asSlice(v)
	if len(elems) == 0 {
		return nil, patternErr(v, "a pattern must name at least one attribute")
	}
	p := &PullPattern{text: ednString(v)}
	for _, el := range elems {
		if isWildcard(el) {
			p.wildcard = true
			continue
		}
		switch t := el.(type) {
		case edn.Map:
			for _, e := range t {
				s, err := parseMapEntry(e.Key, e.Val)
				if err != nil {
					return nil, err
				}
				p.specs = append(p.specs, s)
			}
		case map[any]any:
			return nil, patternErr(el, "use edn.Map for map specs (Go maps have no order)")
		default:
			s, err := parseAttrSpec(el)
			if err != nil {
				return nil, err
			}
			p.specs = append(p.specs, s)
		}
	}
	return p, nil
}

func isWildcard(v any) bool {
	switch t := v.(type) {
	case edn.Symbol:
		return t == "*"
	case string:
		return t == "*"
	}
	return false
}

// parseAttrSpec parses attr-name, attr-with-opts or attr-expr.
func parseAttrSpec(el any) (*pullSpec, error) {
	switch t := el.(type) {
	case edn.Keyword:
		return newSpec(t, el)
	case edn.Vector, edn.List, []any:
		elems, _ := asSlice(t)
		if len(elems) == 0 {
			return nil, patternErr(el, "empty attribute expression")
		}
		if sym, ok := legacyOp(elems[0]); ok {
			return parseLegacy(sym, elems, el)
		}
		kw, ok := elems[0].(edn.Keyword)
		if !ok {
			return nil, patternErr(el, "an attribute expression must start with an attribute keyword, limit or default")
		}
		s, err := newSpec(kw, el)
		if err != nil {
			return nil, err
		}
		opts := elems[1:]
		if len(opts) == 0 {
			return nil, patternErr(el, "attribute %s has no options", kw)
		}
		if len(opts)%2 != 0 {
			return nil, patternErr(el, "options must come in pairs (:as x, :limit n, :default v)")
		}
		for i := 0; i < len(opts); i += 2 {
			if err := s.setOption(opts[i], opts[i+1], el); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	return nil, patternErr(el, "not an attribute spec (want a keyword, *, a map, [attr options...] or (limit|default ...))")
}

// legacyOp recognizes the operator of (limit ...) and (default ...),
// written as a symbol or a string.
func legacyOp(v any) (string, bool) {
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

func parseLegacy(op string, elems []any, el any) (*pullSpec, error) {
	if len(elems) != 3 {
		return nil, patternErr(el, "(%s attr value) takes exactly two arguments", op)
	}
	kw, ok := elems[1].(edn.Keyword)
	if !ok {
		return nil, patternErr(el, "%s: %s is not an attribute keyword", op, ednString(elems[1]))
	}
	s, err := newSpec(kw, el)
	if err != nil {
		return nil, err
	}
	if err := s.setOption(edn.Keyword(op), elems[2], el); err != nil {
		return nil, err
	}
	return s, nil
}

func newSpec(kw edn.Keyword, part any) (*pullSpec, error) {
	if kw == "" {
		return nil, patternErr(part, "empty attribute name")
	}
	s := &pullSpec{name: kw, attr: kw, key: kw, part: part}
	if kw == "db/id" {
		s.dbID = true
		return s, nil
	}
	if name := kw.Name(); strings.HasPrefix(name, "_") && len(name) > 1 {
		s.reverse = true
		if ns := kw.Namespace(); ns != "" {
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
		return patternErr(part, "%s is not an option name (:as, :limit, :default)", ednString(k))
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
			return patternErr(part, ":as %s: results are keyed by keyword, so :as takes a keyword, string or symbol", ednString(v))
		}
		if s.key == "" {
			return patternErr(part, ":as needs a non-empty name")
		}
	case "limit":
		if s.dbID {
			return patternErr(part, ":limit does not apply to :db/id")
		}
		if v == nil {
			s.limit = -1
			return nil
		}
		n, ok := positiveInt(v)
		if !ok {
			return patternErr(part, ":limit %s: want a positive number or nil", ednString(v))
		}
		s.limit = n
	case "default":
		if s.dbID {
			return patternErr(part, ":default does not apply to :db/id")
		}
		s.def, s.hasDef = v, true
	default:
		return patternErr(part, "unknown option %s (want :as, :limit or :default)", ednString(k))
	}
	return nil
}

func positiveInt(v any) (int, bool) {
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

// parseMapEntry parses one entry of a map-spec: the key is attr-name,
// attr-with-opts or attr-expr; the value a pattern or a recursion limit.
func parseMapEntry(k, v any) (*pullSpec, error) {
	s, err := parseAttrSpec(k)
	if err != nil {
		return nil, err
	}
	part := edn.Map{{Key: k, Val: v}}
	s.part = part
	if s.dbID {
		return nil, patternErr(part, ":db/id cannot have a nested pattern")
	}
	switch t := v.(type) {
	case edn.Symbol:
		if t != "..." {
			return nil, patternErr(part, "recursion limit %s: want a positive number or ...", t)
		}
		s.recurse = true
	case int64, int, int32:
		n, ok := positiveInt(t)
		if !ok {
			return nil, patternErr(part, "recursion limit %s: want a positive number or ...", ednString(v))
		}
		s.recurse, s.maxDepth = true, n
	default:
		if !isVector(v) {
			return nil, patternErr(part, "the value of a map spec must be a pattern vector, a positive number or ...")
		}
		sub, err := parsePattern(v)
		if err != nil {
			return nil, err
		}
		s.sub = sub
	}
	return s, nil
}

// ednString renders a pattern element for error messages and String. It is
// not a general EDN printer: it covers the shapes patterns are made of.
func ednString(v any) string {
	var b strings.Builder
	writeEDN(&b, v)
	return b.String()
}

func writeEDN(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("nil")
	case edn.Keyword:
		b.WriteString(t.String())
	case edn.Symbol:
		b.WriteString(string(t))
	case string:
		fmt.Fprintf(b, "%q", t)
	case edn.Vector:
		writeSeq(b, "[", "]", t)
	case []any:
		writeSeq(b, "[", "]", t)
	case edn.List:
		writeSeq(b, "(", ")", t)
	case edn.Set:
		writeSeq(b, "#{", "}", t)
	case edn.Map:
		b.WriteString("{")
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeEDN(b, e.Key)
			b.WriteString(" ")
			writeEDN(b, e.Val)
		}
		b.WriteString("}")
	default:
		fmt.Fprintf(b, "%v", t)
	}
}

func writeSeq(b *strings.Builder, open, close string, elems []any) {
	b.WriteString(open)
	for i, e := range elems {
		if i > 0 {
			b.WriteString(" ")
		}
		writeEDN(b, e)
	}
	b.WriteString(close)
}
