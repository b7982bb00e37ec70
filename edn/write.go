package edn

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// Marshal returns v as EDN text, such that Read of the result is Equal to v.
// Besides the EDN types (see value.go) it accepts Go's integer and float
// types, named types of basic kinds (type Email string prints as a string),
// []any and other slices (as vectors; []byte is #bytes), arrays, and maps of
// any key type (printed with their entries sorted by the text of
// their keys, so that output is deterministic). Nil pointers and nil
// interfaces print as nil. Other types, and values that would not read
// back equal, give an error wrapping ErrUnsupported.
//
// Collections print on one line with single spaces: [1 2 3], {:a 1, :b 2}.
func Marshal(v any) ([]byte, error) {
	var p printer
	if err := p.value(v, 0); err != nil {
		return nil, err
	}
	return p.buf, nil
}

// Write prints v to w as Marshal does. Nothing is written if v cannot be
// printed.
func Write(w io.Writer, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("edn: write: %w", err)
	}
	return nil
}

// String returns v as EDN text for messages and logs. It never fails: a
// value Marshal refuses is formatted with %v.
func String(v any) string {
	b, err := Marshal(v)
	if errors.Is(err, errTooDeep) {
		// %v would recurse forever on a cyclic value.
		return fmt.Sprintf("<%T nested deeper than %d>", v, maxDepth)
	}
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// errTooDeep marks printing errors caused by nesting (possibly a cycle).
var errTooDeep = fmt.Errorf("nesting deeper than %d (a cycle?): %w", maxDepth, ErrUnsupported)

type printer struct {
	buf []byte
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("edn: %s: %w", fmt.Sprintf(format, args...), ErrUnsupported)
}

func (p *printer) value(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("edn: %w", errTooDeep)
	}
	switch x := v.(type) {
	case nil:
		p.buf = append(p.buf, "nil"...)
	case bool:
		p.buf = strconv.AppendBool(p.buf, x)
	case int64:
		p.buf = strconv.AppendInt(p.buf, x, 10)
	case int:
		p.buf = strconv.AppendInt(p.buf, int64(x), 10)
	case int32:
		p.buf = strconv.AppendInt(p.buf, int64(x), 10)
	case float64:
		p.float(x)
	case string:
		return p.str(x)
	case Keyword:
		if !validSymbol(string(x), true) {
			return unsupported("invalid keyword %q", string(x))
		}
		p.buf = append(p.buf, ':')
		p.buf = append(p.buf, x...)
	case Symbol:
		if !validSymbol(string(x), false) {
			return unsupported("invalid symbol %q", string(x))
		}
		p.buf = append(p.buf, x...)
	case Char:
		return p.char(x)
	case List:
		return p.seq('(', ')', x, depth)
	case Vector:
		return p.seq('[', ']', x, depth)
	case []any:
		return p.seq('[', ']', x, depth)
	case Set:
		if i, _ := firstDup(len(x), func(i int) any { return x[i] }); i >= 0 {
			return unsupported("set has duplicate element %s", String(x[i]))
		}
		p.buf = append(p.buf, '#')
		return p.seq('{', '}', x, depth)
	case Map:
		return p.ednMap(x, depth)
	case MapEntry:
		return p.seq('[', ']', []any{x.Key, x.Val}, depth)
	case Tagged:
		return p.tagged(x, depth)
	case *big.Int:
		if x == nil {
			p.buf = append(p.buf, "nil"...)
			return nil
		}
		p.buf = x.Append(p.buf, 10)
		p.buf = append(p.buf, 'N')
	case *apd.Decimal:
		if x == nil {
			p.buf = append(p.buf, "nil"...)
			return nil
		}
		return p.decimal(x)
	case apd.Decimal:
		return p.decimal(&x)
	case time.Time:
		return p.inst(x)
	case uuid.UUID:
		p.buf = append(p.buf, `#uuid "`...)
		p.buf = append(p.buf, x.String()...)
		p.buf = append(p.buf, '"')
	case *url.URL:
		if x == nil {
			p.buf = append(p.buf, "nil"...)
			return nil
		}
		p.buf = append(p.buf, "#uri "...)
		return p.str(x.String())
	case []byte:
		p.buf = append(p.buf, `#bytes "`...)
		p.buf = base64.StdEncoding.AppendEncode(p.buf, x)
		p.buf = append(p.buf, '"')
	case *regexp.Regexp:
		if x == nil {
			p.buf = append(p.buf, "nil"...)
			return nil
		}
		return p.regex(x.String())
	default:
		return p.reflectValue(v, depth)
	}
	return nil
}

// float prints f so that it reads back as a float: 1.0, not 1.
func (p *printer) float(f float64) {
	switch {
	case math.IsInf(f, 1):
		p.buf = append(p.buf, "##Inf"...)
		return
	case math.IsInf(f, -1):
		p.buf = append(p.buf, "##-Inf"...)
		return
	case math.IsNaN(f):
		p.buf = append(p.buf, "##NaN"...)
		return
	}
	start := len(p.buf)
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		p.buf = strconv.AppendFloat(p.buf, f, 'e', -1, 64)
		return
	}
	p.buf = strconv.AppendFloat(p.buf, f, 'f', -1, 64)
	if bytes.IndexByte(p.buf[start:], '.') < 0 {
		p.buf = append(p.buf, ".0"...)
	}
}

func (p *printer) decimal(d *apd.Decimal) error {
	if d.Form != apd.Finite {
		return unsupported("decimal %s is not finite", d.String())
	}
	p.buf = d.Append(p.buf, 'G')
	p.buf = append(p.buf, 'M')
	return nil
}

// str prints a quoted string, escaping quote, backslash, the usual control
// characters and, as \uXXXX, the other C0 controls and DEL.
func (p *printer) str(s string) error {
	if !utf8.ValidString(s) {
		return unsupported("string %q is not valid UTF-8", s)
	}
	p.buf = append(p.buf, '"')
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		p.buf = append(p.buf, s[last:i]...)
		last = i + 1
		switch c {
		case '"':
			p.buf = append(p.buf, `\"`...)
		case '\\':
			p.buf = append(p.buf, `\\`...)
		case '\n':
			p.buf = append(p.buf, `\n`...)
		case '\t':
			p.buf = append(p.buf, `\t`...)
		case '\r':
			p.buf = append(p.buf, `\r`...)
		default:
			p.buf = fmt.Appendf(p.buf, `\u%04x`, c)
		}
	}
	p.buf = append(p.buf, s[last:]...)
	p.buf = append(p.buf, '"')
	return nil
}

// char prints a character literal: a name for the named ones, \uXXXX for
// other controls and invisible characters, the character itself otherwise.
func (p *printer) char(c Char) error {
	r := rune(c)
	if !utf8.ValidRune(r) {
		return unsupported("invalid character %U", r)
	}
	for name, nr := range charNames {
		if nr == r {
			p.buf = append(p.buf, '\\')
			p.buf = append(p.buf, name...)
			return nil
		}
	}
	if r <= 0xFFFF && (!unicode.IsPrint(r) || unicode.IsSpace(r)) {
		p.buf = fmt.Appendf(p.buf, `\u%04x`, r)
		return nil
	}
	p.buf = append(p.buf, '\\')
	p.buf = utf8.AppendRune(p.buf, r)
	return nil
}

func (p *printer) seq(open, close byte, xs []any, depth int) error {
	p.buf = append(p.buf, open)
	for i, x := range xs {
		if i > 0 {
			p.buf = append(p.buf, ' ')
		}
		if err := p.value(x, depth+1); err != nil {
			return err
		}
	}
	p.buf = append(p.buf, close)
	return nil
}

func (p *printer) ednMap(m Map, depth int) error {
	if len(m) > 1 {
		if i, _ := firstDup(len(m), func(i int) any { return m[i].Key }); i >= 0 {
			return unsupported("map has duplicate key %s", String(m[i].Key))
		}
	}
	p.buf = append(p.buf, '{')
	for i, e := range m {
		if i > 0 {
			p.buf = append(p.buf, ", "...)
		}
		if err := p.value(e.Key, depth+1); err != nil {
			return err
		}
		p.buf = append(p.buf, ' ')
		if err := p.value(e.Val, depth+1); err != nil {
			return err
		}
	}
	p.buf = append(p.buf, '}')
	return nil
}

// builtinTags are the tags the reader gives a meaning; a Tagged may not use
// them, or it would read back as something else.
var builtinTags = map[Symbol]bool{"inst": true, "uuid": true, "uri": true, "bytes": true}

func (p *printer) tagged(t Tagged, depth int) error {
	if !validSymbol(string(t.Tag), false) || !startsWithLetter([]byte(t.Tag)) {
		return unsupported("invalid tag %q", string(t.Tag))
	}
	if builtinTags[t.Tag] {
		return unsupported("Tagged may not use the built-in tag #%s", t.Tag)
	}
	p.buf = append(p.buf, '#')
	p.buf = append(p.buf, t.Tag...)
	p.buf = append(p.buf, ' ')
	return p.value(t.Value, depth+1)
}

// inst prints t in UTC, RFC 3339, with as many fractional digits as needed
// (none, 3, 6 or 9), so that it reads back as the same instant.
func (p *printer) inst(t time.Time) error {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return unsupported("time %v is outside years 0000-9999 (RFC 3339)", t)
	}
	p.buf = append(p.buf, `#inst "`...)
	p.buf = t.AppendFormat(p.buf, "2006-01-02T15:04:05")
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1e6 == 0:
		p.buf = fmt.Appendf(p.buf, ".%03d", ns/1e6)
	case ns%1e3 == 0:
		p.buf = fmt.Appendf(p.buf, ".%06d", ns/1e3)
	default:
		p.buf = fmt.Appendf(p.buf, ".%09d", ns)
	}
	p.buf = append(p.buf, `Z"`...)
	return nil
}

// regex prints #"…": the pattern is raw, except that a quote not already
// escaped is written \" (which the reader turns back into a quote).
func (p *printer) regex(s string) error {
	if !utf8.ValidString(s) {
		return unsupported("regex %q is not valid UTF-8", s)
	}
	p.buf = append(p.buf, `#"`...)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			p.buf = append(p.buf, c, s[i+1])
			i++
		case c == '"':
			p.buf = append(p.buf, `\"`...)
		default:
			p.buf = append(p.buf, c)
		}
	}
	p.buf = append(p.buf, '"')
	return nil
}

// reflectValue prints the Go values with no case of their own: other
// integer and float kinds, named types of basic kinds, slices and arrays,
// maps, and nil pointers.
func (p *printer) reflectValue(v any, depth int) error {
	switch c := canon(v).(type) {
	case int64, float64, *big.Int, nil, string, bool:
		return p.value(c, depth)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		p.buf = append(p.buf, '[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			if err := p.value(rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		p.buf = append(p.buf, ']')
		return nil
	case reflect.Map:
		return p.goMap(rv, depth)
	}
	return unsupported("cannot print %T", v)
}

// goMap prints a Go map with its entries sorted by the printed text of their
// keys. Keys that print alike, or are Equal (an interface-keyed map may hold
// 1 and int64(1)), are an error: they would read back as a duplicate.
func (p *printer) goMap(rv reflect.Value, depth int) error {
	type entry struct {
		key  []byte
		k, v any
	}
	entries := make([]entry, 0, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		var kp printer
		k := it.Key().Interface()
		if err := kp.value(k, depth+1); err != nil {
			return err
		}
		entries = append(entries, entry{key: kp.buf, k: k, v: it.Value().Interface()})
	}
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].key, entries[j].key) < 0 })
	if rv.Type().Key().Kind() == reflect.Interface && len(entries) > 1 {
		if i, _ := firstDup(len(entries), func(i int) any { return entries[i].k }); i >= 0 {
			return unsupported("map has duplicate key %s", entries[i].key)
		}
	}
	p.buf = append(p.buf, '{')
	for i, e := range entries {
		if i > 0 {
			p.buf = append(p.buf, ", "...)
		}
		p.buf = append(p.buf, e.key...)
		p.buf = append(p.buf, ' ')
		if err := p.value(e.v, depth+1); err != nil {
			return err
		}
	}
	p.buf = append(p.buf, '}')
	return nil
}

// String returns the character as EDN text, such as \a or \newline (or
// Char(0x…) for a value that is not a valid character).
func (c Char) String() string {
	var p printer
	if err := p.char(c); err != nil {
		return fmt.Sprintf("Char(%#x)", rune(c))
	}
	return string(p.buf)
}
