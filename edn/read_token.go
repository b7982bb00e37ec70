package edn

import (
	"encoding/base64"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

var (
	posInf any = math.Inf(1)
	negInf any = math.Inf(-1)
	nan    any = math.NaN()
)

// token interprets a number, keyword, symbol, nil, true or false.
func (p *parser) token(tok []byte, start int) (any, error) {
	c := tok[0]
	if isDigit(c) || (c == '+' || c == '-') && len(tok) > 1 && isDigit(tok[1]) {
		return p.number(tok, start)
	}
	if c == ':' {
		name := tok[1:]
		if len(name) > 0 && name[0] == ':' {
			return nil, p.errorf(start, "auto-resolved keyword %s is not supported", tok)
		}
		if v, ok := p.intern[string(tok)]; ok {
			return v, nil
		}
		if !validSymbol(string(name), true) {
			return nil, p.errorf(start, "invalid keyword %s", tok)
		}
		s := string(tok) // one copy serves as the table key and the keyword
		return p.keep(s, Keyword(s[1:])), nil
	}
	switch string(tok) {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if v, ok := p.intern[string(tok)]; ok {
		return v, nil
	}
	if !validSymbol(string(tok), false) {
		return nil, p.errorf(start, "invalid symbol %s", tok)
	}
	s := string(tok)
	return p.keep(s, Symbol(s)), nil
}

// keep interns a keyword or symbol (boxed once) under its token text.
func (p *parser) keep(text string, v any) any {
	if p.intern == nil {
		p.intern = make(map[string]any)
	}
	if len(p.intern) < maxInterned {
		p.intern[text] = v
	}
	return v
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads
//
//	[+-]? (0 | [1-9][0-9]*) ( N | (. [0-9]*)? ([eE] [+-]? [0-9]+)? M? )
//
// into int64 (or *big.Int if it overflows), *big.Int (N), float64 or
// *apd.Decimal (M). Leading zeros (octal in Clojure), hex, radix and ratio
// forms are errors.
func (p *parser) number(tok []byte, start int) (any, error) {
	i := 0
	if tok[0] == '+' || tok[0] == '-' {
		i++
	}
	digits := i
	for i < len(tok) && isDigit(tok[i]) {
		i++
	}
	if i-digits > 1 && tok[digits] == '0' {
		return nil, p.errorf(start, "invalid number %s: only 0 may begin with 0", tok)
	}
	if i == len(tok) {
		if n, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
			return n, nil
		}
		return p.bigInt(tok, start)
	}
	switch tok[i] {
	case 'N':
		if i+1 == len(tok) {
			return p.bigInt(tok[:i], start)
		}
	case '/':
		return nil, p.errorf(start, "ratio %s is not supported", tok)
	case '.', 'e', 'E', 'M':
		if tok[i] == '.' {
			i++
			for i < len(tok) && isDigit(tok[i]) {
				i++
			}
		}
		if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
			i++
			if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
				i++
			}
			expDigits := i
			for i < len(tok) && isDigit(tok[i]) {
				i++
			}
			if i == expDigits {
				return nil, p.errorf(start, "invalid number %s: exponent has no digits", tok)
			}
		}
		if i == len(tok)-1 && tok[i] == 'M' {
			if d, ok := smallDecimal(tok[:i]); ok {
				return d, nil
			}
			d, _, err := apd.NewFromString(string(tok[:i]))
			if err != nil {
				return nil, p.errorf(start, "invalid decimal %s: %v", tok, err)
			}
			return d, nil
		}
		if i == len(tok) {
			f, err := strconv.ParseFloat(string(tok), 64)
			if err != nil && !math.IsInf(f, 0) {
				return nil, p.errorf(start, "invalid number %s", tok)
			}
			return f, nil
		}
	}
	return nil, p.errorf(start, "invalid number %s", tok)
}

// smallDecimal builds the decimal for s (a valid EDN float without its M)
// directly when its digits fit an int64 and its exponent is small, which is
// what apd.NewFromString would return, without its string handling.
func smallDecimal(s []byte) (*apd.Decimal, bool) {
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	var coeff int64
	digits, exp := 0, int64(0)
	i := 0
	for ; i < len(s) && (isDigit(s[i]) || s[i] == '.'); i++ {
		if s[i] == '.' {
			continue
		}
		if digits++; digits > 18 {
			return nil, false
		}
		coeff = coeff*10 + int64(s[i]-'0')
	}
	if dot := bytesIndexByte(s[:i], '.'); dot >= 0 {
		exp = -int64(i - dot - 1)
	}
	if i < len(s) { // exponent: [eE][+-]?digits
		e, err := strconv.ParseInt(string(s[i+1:]), 10, 32)
		if err != nil || e > 10000 || e < -10000 {
			return nil, false
		}
		exp += e
	}
	d := apd.New(coeff, int32(exp))
	d.Negative = neg
	return d, true
}

func bytesIndexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (p *parser) bigInt(tok []byte, start int) (any, error) {
	n, ok := new(big.Int).SetString(string(tok), 10)
	if !ok {
		return nil, p.errorf(start, "invalid integer %s", tok)
	}
	return n, nil
}

// symbolPunct holds the non-alphanumeric characters a symbol may contain.
const symbolPunct = ".*+!-_?$%&=<>:#"

func isLetterRune(r rune) bool { return unicode.IsLetter(r) }

// validSymbol reports whether s may be printed as a symbol (or, with
// keyword, as a keyword after its colon) and read back as the same value.
// Rules, after the EDN spec: one optional '/' separating a non-empty prefix
// and name ('/' alone is a symbol); each part begins with a non-digit
// (keywords may begin with a digit, as Clojure accepts), and not with ':' or
// '#'; a part beginning with '-', '+' or '.' has a non-digit second
// character; characters are letters, digits and .*+!-_?$%&=<>:#; nil, true and
// false are literals, not symbols.
func validSymbol(s string, keyword bool) bool {
	if s == "/" {
		return !keyword
	}
	if !keyword && (s == "nil" || s == "true" || s == "false") {
		return false
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return validPart(s[:i], keyword) && validPart(s[i+1:], keyword) && !strings.Contains(s[i+1:], "/")
	}
	return validPart(s, keyword)
}

func validPart(s string, keyword bool) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			return false
		case r < utf8.RuneSelf && isDigit(byte(r)):
			if i == 0 && !keyword {
				return false
			}
			if i == 1 && (s[0] == '-' || s[0] == '+' || s[0] == '.') && !keyword {
				return false
			}
		case r < utf8.RuneSelf && strings.IndexByte(symbolPunct, byte(r)) >= 0:
			if i == 0 && (r == ':' || r == '#') {
				return false
			}
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if i == 0 && unicode.IsDigit(r) && !keyword {
				return false
			}
		case r < utf8.RuneSelf && isLetter(byte(r)):
		default:
			return false
		}
	}
	return true
}

// readString reads a string literal at p.pos (the opening quote). Escapes:
// \t \r \n \b \f \\ \" and \uXXXX (surrogate pairs combine). Raw newlines are
// allowed; invalid UTF-8 is not.
func (p *parser) readString() (any, error) {
	open := p.pos
	i := open + 1
	// Fast path: no escapes.
	for i < len(p.data) {
		c := p.data[i]
		if c == '"' {
			s := p.data[open+1 : i]
			if !utf8.Valid(s) {
				return nil, p.errorf(open, "string is not valid UTF-8")
			}
			p.pos = i + 1
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		i++
	}
	var b strings.Builder
	b.Write(p.data[open+1 : i])
	for i < len(p.data) {
		c := p.data[i]
		switch c {
		case '"':
			s := b.String()
			if !utf8.ValidString(s) {
				return nil, p.errorf(open, "string is not valid UTF-8")
			}
			p.pos = i + 1
			return s, nil
		case '\\':
			if i+1 >= len(p.data) {
				return nil, p.errShort(open, "unterminated string")
			}
			esc := p.data[i+1]
			switch esc {
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '\\', '"':
				b.WriteByte(esc)
			case 'u':
				r, n, err := p.unicodeEscape(i)
				if err != nil {
					return nil, err
				}
				b.WriteRune(r)
				i += n
				continue
			default:
				return nil, p.errorf(i, "invalid escape \\%c in string", esc)
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return nil, p.errShort(open, "unterminated string")
}

// unicodeEscape decodes \uXXXX at p.data[i:], combining a surrogate pair
// \uD83D\uDE00 into one rune. It returns the rune and the bytes consumed.
func (p *parser) unicodeEscape(i int) (rune, int, error) {
	r, ok := hex4(p.data, i+2)
	if !ok {
		if len(p.data) < i+6 && allHex(p.data[i+2:]) {
			return 0, 0, p.errShort(i, "truncated \\u escape")
		}
		return 0, 0, p.errorf(i, "invalid \\u escape: want 4 hex digits")
	}
	if !utf16IsSurrogate(r) {
		return r, 6, nil
	}
	if r < 0xDC00 && i+12 <= len(p.data) && p.data[i+6] == '\\' && p.data[i+7] == 'u' {
		if lo, ok := hex4(p.data, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
			return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12, nil
		}
	}
	if r < 0xDC00 && i+12 > len(p.data) && !p.atEOF {
		return 0, 0, p.errShort(i, "truncated surrogate pair")
	}
	return 0, 0, p.errorf(i, "invalid \\u escape: unpaired surrogate \\u%04X", r)
}

func utf16IsSurrogate(r rune) bool { return r >= 0xD800 && r <= 0xDFFF }

func allHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// charNames maps the named characters to their runes.
var charNames = map[string]rune{
	"newline":   '\n',
	"space":     ' ',
	"tab":       '\t',
	"return":    '\r',
	"backspace": '\b',
	"formfeed":  '\f',
}

// readChar reads a character literal at p.pos (the backslash): \c for any
// single character (even a delimiter), a name from charNames, or \uXXXX.
func (p *parser) readChar() (any, error) {
	start := p.pos
	p.pos++
	if p.pos >= len(p.data) {
		return nil, p.errShort(start, "unexpected end of input after \\")
	}
	r, size := utf8.DecodeRune(p.data[p.pos:])
	if r == utf8.RuneError && size <= 1 {
		if !p.atEOF && !utf8.FullRune(p.data[p.pos:]) {
			return nil, p.errShort(start, "unexpected end of input in character")
		}
		return nil, p.errorf(start, "character is not valid UTF-8")
	}
	p.pos += size
	if err := p.scanToken(start); err != nil {
		return nil, err
	}
	tok := p.data[start+1 : p.pos]
	if len(tok) == size {
		return Char(r), nil
	}
	if r, ok := charNames[string(tok)]; ok {
		return Char(r), nil
	}
	if tok[0] == 'u' && len(tok) == 5 {
		if r, ok := hex4(tok, 1); ok {
			if utf16IsSurrogate(r) {
				return nil, p.errorf(start, "invalid character \\%s: a surrogate", tok)
			}
			return Char(r), nil
		}
	}
	return nil, p.errorf(start, "unsupported character \\%s", tok)
}

// readRegex reads #"…" with p.pos at the quote. As in Clojure the text is
// raw: a backslash keeps the next character (\" is a quote inside the
// pattern, stored as a plain "), and the result is Go regexp syntax.
func (p *parser) readRegex(start int) (any, error) {
	i := p.pos + 1
	var b []byte
	for i < len(p.data) {
		c := p.data[i]
		switch c {
		case '"':
			if !utf8.Valid(b) {
				return nil, p.errorf(start, "regex is not valid UTF-8")
			}
			re, err := regexp.Compile(string(b))
			if err != nil {
				return nil, p.errorf(start, "invalid regex: %v", err)
			}
			p.pos = i + 1
			return re, nil
		case '\\':
			if i+1 >= len(p.data) {
				return nil, p.errShort(start, "unterminated regex")
			}
			if p.data[i+1] == '"' {
				b = append(b, '"')
			} else {
				b = append(b, c, p.data[i+1])
			}
			i += 2
		default:
			b = append(b, c)
			i++
		}
	}
	return nil, p.errShort(start, "unterminated regex")
}

// instLayouts are the forms #inst accepts after RFC 3339 proper: the
// shorter forms Clojure's reader takes, read as UTC.
var instLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
	"2006",
}

// tagged gives a tagged element its meaning: the built-in tags inst, uuid,
// uri and bytes take a string; any other tag becomes a Tagged.
func (p *parser) tagged(tag Symbol, v any, start, elemAt int) (any, error) {
	switch tag {
	case "inst", "uuid", "uri", "bytes":
	default:
		return Tagged{Tag: tag, Value: v}, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, p.errorf(elemAt, "#%s needs a string, found %s", tag, String(v))
	}
	switch tag {
	case "inst":
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		for _, layout := range instLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, p.errorf(elemAt, "invalid #inst %q: want RFC 3339, e.g. \"2024-01-02T15:04:05.000Z\"", s)
	case "uuid":
		u, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			return nil, p.errorf(elemAt, "invalid #uuid %q: want 8-4-4-4-12 hex digits", s)
		}
		return u, nil
	case "uri":
		u, err := url.Parse(s)
		if err != nil {
			return nil, p.errorf(elemAt, "invalid #uri %q: %v", s, err)
		}
		// The printer writes u.String(); refuse the (so far hypothetical)
		// URI that would not read back as itself.
		if u2, err := url.Parse(u.String()); err != nil || u2.String() != u.String() {
			return nil, p.errorf(elemAt, "invalid #uri %q: does not survive re-printing", s)
		}
		return u, nil
	default: // bytes
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, p.errorf(elemAt, "invalid #bytes: want standard base64: %v", err)
		}
		return b, nil
	}
}
