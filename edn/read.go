package edn

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds the nesting of collections, tags and discards, so that
// hostile input gets a SyntaxError instead of exhausting the stack.
const maxDepth = 10000

// maxInterned bounds the per-reader table of keywords and symbols already
// seen (transaction data repeats its attribute keywords constantly).
const maxInterned = 4096

// Read reads exactly one EDN value from data. Whitespace, commas, comments
// and #_ discarded forms may surround it; anything else after the value is an
// error. Every error is a *SyntaxError.
func Read(data []byte) (any, error) {
	p := parser{data: data, atEOF: true, line: 1, col: 1}
	v, end, err := p.next(0, 0)
	if err != nil {
		return nil, err
	}
	if end {
		return nil, p.errAt(p.pos, "no value in input")
	}
	// Only whitespace, comments and discards may follow.
	if _, end, err := p.next(0, 0); err != nil {
		return nil, err
	} else if !end {
		return nil, p.errAt(p.lastStart, "unexpected data after the value")
	}
	return v, nil
}

// ReadString is Read on a string.
func ReadString(s string) (any, error) { return Read([]byte(s)) }

// ReadAll reads every value in data, in order. Empty input (or only
// whitespace and comments) gives an empty, non-nil slice.
func ReadAll(data []byte) ([]any, error) {
	p := parser{data: data, atEOF: true, line: 1, col: 1}
	out := []any{}
	for {
		v, end, err := p.next(0, 0)
		if err != nil {
			return nil, err
		}
		if end {
			return out, nil
		}
		out = append(out, v)
	}
}

// parser reads EDN from a byte slice. data holds either all of the input
// (atEOF) or a prefix of it (inside a Decoder); in the second case an error
// caused by reaching the end of data sets short, so the Decoder knows that
// more input may fix it.
type parser struct {
	data  []byte
	pos   int
	depth int
	atEOF bool
	short bool
	// lastStart is the offset where the last value read by next began.
	lastStart int

	// base, line and col give the stream position of data[0], or, if pre
	// is set, of pre[0], pre being the input just before data[0]. They let
	// errors from a Decoder carry stream-wide positions; pre lets the
	// Decoder defer counting lines to when an error happens.
	base, line, col int
	pre             []byte

	intern map[string]any

	// stack and offs hold the elements of the collections being read, and
	// their offsets (see seq).
	stack []any
	offs  []int
}

// errAt returns a *SyntaxError for the byte offset off of p.data.
func (p *parser) errAt(off int, msg string) *SyntaxError {
	if off > len(p.data) {
		off = len(p.data)
	}
	line, col := advance(p.line, p.col, p.pre)
	line, col = advance(line, col, p.data[:off])
	return &SyntaxError{Line: line, Col: col, Offset: p.base + len(p.pre) + off, Msg: msg}
}

// advance returns the position after b, starting at line and col.
func advance(line, col int, b []byte) (int, int) {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		line += bytes.Count(b, newline)
		col = 1
		b = b[i+1:]
	}
	return line, col + utf8.RuneCount(b)
}

var newline = []byte{'\n'}

func (p *parser) errorf(off int, format string, args ...any) *SyntaxError {
	return p.errAt(off, fmt.Sprintf(format, args...))
}

// errShort reports input that ends too early.
func (p *parser) errShort(off int, msg string) *SyntaxError {
	if !p.atEOF {
		p.short = true
	}
	return p.errAt(off, msg)
}

// isSpace reports whether c separates values (commas are whitespace in EDN).
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', '\f', '\v':
		return true
	}
	return false
}

// isDelim reports whether c ends a token (number, symbol, keyword, char).
func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', '\f', '\v', '(', ')', '[', ']', '{', '}', '"', ';', '\\':
		return true
	}
	return false
}

// skipSpace skips whitespace and ; comments.
func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if isSpace(c) {
			p.pos++
			continue
		}
		if c == ';' {
			for p.pos < len(p.data) && p.data[p.pos] != '\n' {
				p.pos++
			}
			continue
		}
		return
	}
}

// closerName names the collection a closing delimiter ends.
func closerName(closer byte) string {
	switch closer {
	case ')':
		return "list"
	case ']':
		return "vector"
	}
	return "map or set"
}

// next reads the next value, skipping whitespace, comments and #_ discards.
// It returns end=true (and consumes the delimiter) when it meets closer, or,
// for closer == 0 (top level), the end of input. open is the offset of the
// collection's opening delimiter, for the error on unterminated input.
func (p *parser) next(closer byte, open int) (v any, end bool, err error) {
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			if closer == 0 {
				return nil, true, nil
			}
			return nil, false, p.errShort(open, "unterminated "+closerName(closer))
		}
		c := p.data[p.pos]
		switch c {
		case ')', ']', '}':
			if c == closer {
				p.pos++
				return nil, true, nil
			}
			return nil, false, p.errorf(p.pos, "unexpected %q", c)
		case '#':
			if p.pos+1 < len(p.data) && p.data[p.pos+1] == '_' {
				start := p.pos
				p.pos += 2
				if p.depth++; p.depth > maxDepth {
					return nil, false, p.errorf(start, "nesting deeper than %d", maxDepth)
				}
				if _, err := p.required(start, "#_"); err != nil {
					return nil, false, err
				}
				p.depth--
				continue
			}
		}
		start := p.pos
		v, err := p.value()
		p.lastStart = start
		return v, false, err
	}
}

// required reads the value that must follow a dispatch such as #_ or a tag
// (what names it) that began at offset at. Discards before it are skipped:
// "#tag #_ x y" tags y.
func (p *parser) required(at int, what string) (any, error) {
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errShort(at, what+" needs a value after it")
		}
		switch c := p.data[p.pos]; c {
		case ')', ']', '}':
			return nil, p.errorf(p.pos, "%s needs a value after it, found %q", what, c)
		case '#':
			if p.pos+1 < len(p.data) && p.data[p.pos+1] == '_' {
				start := p.pos
				p.pos += 2
				if p.depth++; p.depth > maxDepth {
					return nil, p.errorf(start, "nesting deeper than %d", maxDepth)
				}
				if _, err := p.required(start, "#_"); err != nil {
					return nil, err
				}
				p.depth--
				continue
			}
		}
		start := p.pos
		v, err := p.value()
		p.lastStart = start
		return v, err
	}
}

// value reads the value starting at p.pos, which is neither whitespace nor
// a closing delimiter.
func (p *parser) value() (any, error) {
	start := p.pos
	switch c := p.data[p.pos]; c {
	case '(':
		base, err := p.seq(')', start)
		if err != nil {
			return nil, err
		}
		return List(p.popItems(base)), nil
	case '[':
		base, err := p.seq(']', start)
		if err != nil {
			return nil, err
		}
		return Vector(p.popItems(base)), nil
	case '{':
		return p.readMap()
	case '"':
		return p.readString()
	case '\\':
		return p.readChar()
	case '#':
		return p.dispatch()
	}
	// A token: number, keyword, symbol, nil, true, false.
	if err := p.scanToken(start); err != nil {
		return nil, err
	}
	return p.token(p.data[start:p.pos], start)
}

// seq reads the elements of a collection up to closer; p.pos is at its
// opening delimiter (for "#{", at the brace), and open is where the
// collection began, for errors. It leaves the elements on p.stack[base:]
// and where each began on p.offs[base:]; the caller copies them out and
// truncates both stacks to base. The shared stacks mean one exact-size
// allocation per collection instead of a growing slice each.
func (p *parser) seq(closer byte, open int) (base int, err error) {
	p.pos++
	if p.depth++; p.depth > maxDepth {
		return 0, p.errorf(open, "nesting deeper than %d", maxDepth)
	}
	base = len(p.stack)
	for {
		v, end, err := p.next(closer, open)
		if err != nil {
			return 0, err
		}
		if end {
			break
		}
		p.stack = append(p.stack, v)
		p.offs = append(p.offs, p.lastStart)
	}
	p.depth--
	return base, nil
}

// popItems copies p.stack[base:] into a new slice (nil if empty) and
// truncates the stacks.
func (p *parser) popItems(base int) []any {
	var items []any
	if n := len(p.stack) - base; n > 0 {
		items = make([]any, n)
		copy(items, p.stack[base:])
	}
	p.truncate(base)
	return items
}

func (p *parser) truncate(base int) {
	clear(p.stack[base:]) // drop references for the garbage collector
	p.stack = p.stack[:base]
	p.offs = p.offs[:base]
}

func (p *parser) readMap() (any, error) {
	open := p.pos
	base, err := p.seq('}', open)
	if err != nil {
		return nil, err
	}
	items := p.stack[base:]
	if len(items)%2 != 0 {
		return nil, p.errorf(open, "map has %d forms; it needs an even number (key value pairs)", len(items))
	}
	m := make(Map, len(items)/2)
	for i := range m {
		m[i] = MapEntry{Key: items[2*i], Val: items[2*i+1]}
	}
	if _, j := firstDup(len(m), func(i int) any { return m[i].Key }); j >= 0 {
		return nil, p.errorf(p.offs[base+2*j], "duplicate map key %s", String(m[j].Key))
	}
	p.truncate(base)
	return m, nil
}

func (p *parser) readSet(open int) (any, error) {
	base, err := p.seq('}', open)
	if err != nil {
		return nil, err
	}
	items := p.stack[base:]
	if _, j := firstDup(len(items), func(i int) any { return items[i] }); j >= 0 {
		return nil, p.errorf(p.offs[base+j], "duplicate set element %s", String(items[j]))
	}
	return Set(p.popItems(base)), nil
}

// dispatch reads a form that starts with '#': a set, a tagged element, a
// regex, or a symbolic value (##Inf). "#_" is handled by next.
func (p *parser) dispatch() (any, error) {
	start := p.pos
	if p.pos+1 >= len(p.data) {
		return nil, p.errShort(start, "unexpected end of input after '#'")
	}
	switch c := p.data[p.pos+1]; {
	case c == '{':
		p.pos++
		return p.readSet(start)
	case c == '"':
		p.pos++
		return p.readRegex(start)
	case c == '#':
		p.pos += 2
		if err := p.scanToken(start); err != nil {
			return nil, err
		}
		return p.symbolic(p.data[start+2:p.pos], start)
	case c == '_':
		// Unreachable: next and required consume #_ before calling value.
		return nil, p.errorf(start, "#_ is not allowed here")
	case c == ':':
		return nil, p.errorf(start, "namespaced map syntax #: is not supported")
	case c < utf8.RuneSelf && !isLetter(c):
		return nil, p.errorf(start, "invalid dispatch #%c", c)
	}
	p.pos++
	if err := p.scanToken(start); err != nil {
		return nil, err
	}
	tag := p.data[start+1 : p.pos]
	if !validSymbol(string(tag), false) || !startsWithLetter(tag) {
		return nil, p.errorf(start, "invalid tag #%s: a tag is a symbol starting with a letter", tag)
	}
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf(start, "nesting deeper than %d", maxDepth)
	}
	v, err := p.required(start, "tag #"+string(tag))
	if err != nil {
		return nil, err
	}
	p.depth--
	elemAt := p.lastStart
	return p.tagged(Symbol(tag), v, start, elemAt)
}

// scanToken advances p.pos to the end of the token that began at start. A
// token that runs into the end of a partial buffer may continue in the next
// chunk, so that is a short read, not a token.
func (p *parser) scanToken(start int) error {
	for p.pos < len(p.data) && !isDelim(p.data[p.pos]) {
		p.pos++
	}
	if p.pos >= len(p.data) && !p.atEOF {
		return p.errShort(start, "unexpected end of input")
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func startsWithLetter(b []byte) bool {
	r, _ := utf8.DecodeRune(b)
	return r != utf8.RuneError && isLetterRune(r)
}

func (p *parser) symbolic(name []byte, start int) (any, error) {
	switch string(name) {
	case "Inf":
		return posInf, nil
	case "-Inf":
		return negInf, nil
	case "NaN":
		return nan, nil
	}
	return nil, p.errorf(start, "unknown symbolic value ##%s (want ##Inf, ##-Inf or ##NaN)", name)
}
