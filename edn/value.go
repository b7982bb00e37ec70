package edn

import "strings"

// The Go representation of EDN values, shared by every package that reads or
// prints EDN (transactions, queries, pull patterns, the command line):
//
//	nil            nil
//	true/false     bool
//	42             int64
//	42N, huge ints *big.Int
//	1.5            float64
//	1.5M           *apd.Decimal (github.com/cockroachdb/apd/v3)
//	"s"            string
//	\c             Char
//	:ns/name       Keyword
//	name, ns/name  Symbol
//	(a b)          List
//	[a b]          Vector
//	{k v}          Map (ordered entries; keys may be any value)
//	#{a b}         Set
//	#inst "…"      time.Time
//	#uuid "…"      uuid.UUID (github.com/google/uuid)
//	#uri "…"       *url.URL
//	#bytes "b64"   []byte
//	#"regex"       *regexp.Regexp
//	#tag v         Tagged (any other tag)

// Keyword is an EDN keyword, held without its leading colon: the keyword
// :person/name is Keyword("person/name").
type Keyword string

// Namespace returns the part before the slash, or "" if there is none.
func (k Keyword) Namespace() string {
	if i := strings.IndexByte(string(k), '/'); i > 0 {
		return string(k[:i])
	}
	return ""
}

// Name returns the part after the slash, or the whole keyword if there is none.
func (k Keyword) Name() string {
	if i := strings.IndexByte(string(k), '/'); i > 0 {
		return string(k[i+1:])
	}
	return string(k)
}

// String returns the keyword as EDN text, with its colon.
func (k Keyword) String() string { return ":" + string(k) }

// Symbol is an EDN symbol such as ?e, $, %, ..., or ns/name.
type Symbol string

// Namespace returns the part before the slash, or "" if there is none
// (the symbol "/" has none).
func (s Symbol) Namespace() string {
	if i := strings.IndexByte(string(s), '/'); i > 0 && len(s) > 1 {
		return string(s[:i])
	}
	return ""
}

// Name returns the part after the slash, or the whole symbol if there is none.
func (s Symbol) Name() string {
	if i := strings.IndexByte(string(s), '/'); i > 0 && len(s) > 1 {
		return string(s[i+1:])
	}
	return string(s)
}

// String returns the symbol as EDN text.
func (s Symbol) String() string { return string(s) }

// Char is an EDN character literal such as \a or \newline.
type Char rune

// List is an EDN list: (a b c).
type List []any

// Vector is an EDN vector: [a b c].
type Vector []any

// Set is an EDN set: #{a b c}, its elements in the order read.
type Set []any

// MapEntry is one key-value pair of a Map.
type MapEntry struct {
	Key, Val any
}

// Map is an EDN map, its entries in the order read. Keys may be values that
// Go cannot use as map keys (vectors, maps), so it is a slice.
type Map []MapEntry

// Get returns the value stored under key (compared with Equal) and whether it
// was present.
func (m Map) Get(key any) (any, bool) {
	for _, e := range m {
		if Equal(e.Key, key) {
			return e.Val, true
		}
	}
	return nil, false
}

// Tagged is a tagged element whose tag has no built-in meaning: #my/tag value.
type Tagged struct {
	Tag   Symbol
	Value any
}
