package edn

import (
	"errors"
	"math"
	"math/big"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad big int " + s)
	}
	return n
}

func dec(s string) *apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return d
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestReadForms covers every syntax form: each input must read to a value
// Equal to want and of the same Go type.
func TestReadForms(t *testing.T) {
	inst := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return tm
	}
	tests := []struct {
		in   string
		want any
	}{
		// Literals.
		{"nil", nil},
		{"true", true},
		{"false", false},
		{"  nil  ", nil},
		// Integers.
		{"0", int64(0)},
		{"-0", int64(0)},
		{"42", int64(42)},
		{"+42", int64(42)},
		{"-42", int64(-42)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", bigInt("9223372036854775808")},
		{"-99999999999999999999999", bigInt("-99999999999999999999999")},
		{"42N", bigInt("42")},
		{"0N", bigInt("0")},
		{"-7N", bigInt("-7")},
		// Floats.
		{"1.5", 1.5},
		{"-1.5", -1.5},
		{"+1.5", 1.5},
		{"1.", 1.0},
		{"0.0", 0.0},
		{"1e3", 1000.0},
		{"1E3", 1000.0},
		{"1.5e-3", 0.0015},
		{"1.5E+3", 1500.0},
		{"1e999", math.Inf(1)},
		{"##Inf", math.Inf(1)},
		{"##-Inf", math.Inf(-1)},
		// Decimals.
		{"1.5M", dec("1.5")},
		{"1M", dec("1")},
		{"-0.001M", dec("-0.001")},
		{"1.5e10M", dec("1.5e10")},
		{"123456789012345678901234567890.123456789M", dec("123456789012345678901234567890.123456789")},
		// Strings.
		{`""`, ""},
		{`"hello"`, "hello"},
		{`"a\tb\rc\nd\\e\"f"`, "a\tb\rc\nd\\e\"f"},
		{`"\b\f"`, "\b\f"},
		{`"\u00e9\u0041"`, "éA"},
		{`"\uD83D\uDE00"`, "😀"},
		{"\"raw\nnewline\"", "raw\nnewline"},
		{`"日本語"`, "日本語"},
		{`"semi;colon, comma"`, "semi;colon, comma"},
		// Characters.
		{`\a`, Char('a')},
		{`\A`, Char('A')},
		{`\newline`, Char('\n')},
		{`\space`, Char(' ')},
		{`\tab`, Char('\t')},
		{`\return`, Char('\r')},
		{`\backspace`, Char('\b')},
		{`\formfeed`, Char('\f')},
		{`\u00e9`, Char('é')},
		{`\u`, Char('u')},
		{`\é`, Char('é')},
		{`\(`, Char('(')},
		{`\\`, Char('\\')},
		{`\"`, Char('"')},
		{`\,`, Char(',')},
		{`\1`, Char('1')},
		// Keywords.
		{":a", Keyword("a")},
		{":person/name", Keyword("person/name")},
		{":person/_friend", Keyword("person/_friend")},
		{":db.type/long", Keyword("db.type/long")},
		{":db/id", Keyword("db/id")},
		{":nil", Keyword("nil")},
		{":a:b", Keyword("a:b")},
		{":a#b", Keyword("a#b")},
		{":1", Keyword("1")},
		{":-", Keyword("-")},
		{":é", Keyword("é")},
		// Symbols.
		{"foo", Symbol("foo")},
		{"ns/name", Symbol("ns/name")},
		{"/", Symbol("/")},
		{"..", Symbol("..")},
		{"...", Symbol("...")},
		{"$", Symbol("$")},
		{"$team", Symbol("$team")},
		{"%", Symbol("%")},
		{"?x", Symbol("?x")},
		{"?e-1", Symbol("?e-1")},
		{"_", Symbol("_")},
		{"+", Symbol("+")},
		{"-", Symbol("-")},
		{"-a", Symbol("-a")},
		{"+a", Symbol("+a")},
		{".a", Symbol(".a")},
		{"<=", Symbol("<=")},
		{"not=", Symbol("not=")},
		{"re-find", Symbol("re-find")},
		{"missing?", Symbol("missing?")},
		{"a#b", Symbol("a#b")},
		{"a:b", Symbol("a:b")},
		{"*", Symbol("*")},
		{"!&=", Symbol("!&=")},
		{"nil?", Symbol("nil?")},
		{"truex", Symbol("truex")},
		// Collections.
		{"()", List(nil)},
		{"(1 2 3)", List{int64(1), int64(2), int64(3)}},
		{"[]", Vector(nil)},
		{"[1 [2 [3]]]", Vector{int64(1), Vector{int64(2), Vector{int64(3)}}}},
		{"[1,2,,3]", Vector{int64(1), int64(2), int64(3)}},
		{"[a\"s\"\\c :k]", Vector{Symbol("a"), "s", Char('c'), Keyword("k")}},
		{"[1(2)3]", Vector{int64(1), List{int64(2)}, int64(3)}},
		{"{}", Map{}},
		{"{:a 1, :b 2}", Map{{Keyword("a"), int64(1)}, {Keyword("b"), int64(2)}}},
		{"{[1 2] {:x nil}}", Map{{Vector{int64(1), int64(2)}, Map{{Keyword("x"), nil}}}}},
		{"#{}", Set(nil)},
		{"#{1 2 3}", Set{int64(1), int64(2), int64(3)}},
		{"#{[1] [2]}", Set{Vector{int64(1)}, Vector{int64(2)}}},
		{"#{1 1.0 1M}", Set{int64(1), 1.0, dec("1")}},
		{"#{:a \"a\" a \\a}", Set{Keyword("a"), "a", Symbol("a"), Char('a')}},
		// Comments, whitespace, discard.
		{"; comment\n42", int64(42)},
		{"42 ; trailing", int64(42)},
		{"[1 ; c\n 2]", Vector{int64(1), int64(2)}},
		{"#_ 1 2", int64(2)},
		{"#_1 2", int64(2)},
		{"#_ #_ 1 2 3", int64(3)},
		{"[1 #_ 2 3]", Vector{int64(1), int64(3)}},
		{"[1 #_ [2 3]]", Vector{int64(1)}},
		{"{:a 1 #_ :b #_ 2}", Map{{Keyword("a"), int64(1)}}},
		{"42 #_ 43", int64(42)},
		{"\t\r\n\f\v,42", int64(42)},
		// Tags.
		{`#inst "2024-01-02T03:04:05Z"`, inst("2024-01-02T03:04:05Z")},
		{`#inst "2024-01-02T03:04:05.123Z"`, inst("2024-01-02T03:04:05.123Z")},
		{`#inst "2024-01-02T03:04:05.123456789Z"`, inst("2024-01-02T03:04:05.123456789Z")},
		{`#inst "2024-01-02T04:04:05.5+01:00"`, inst("2024-01-02T03:04:05.5Z")},
		{`#inst "1985-04-12T23:20:50.52-00:00"`, inst("1985-04-12T23:20:50.52Z")},
		{`#inst "2024-01-02"`, inst("2024-01-02T00:00:00Z")},
		{`#inst "2024-01"`, inst("2024-01-01T00:00:00Z")},
		{`#inst "2024"`, inst("2024-01-01T00:00:00Z")},
		{`#inst "2024-01-02T03:04"`, inst("2024-01-02T03:04:00Z")},
		{`#inst"2024-01-02"`, inst("2024-01-02T00:00:00Z")},
		{`#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"`, uuid.MustParse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")},
		{`#uuid "F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6"`, uuid.MustParse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")},
		{`#uri "https://example.com/a?b=c#d"`, mustURL("https://example.com/a?b=c#d")},
		{`#bytes "aGVsbG8="`, []byte("hello")},
		{`#bytes ""`, []byte{}},
		{`#"a\d+"`, regexp.MustCompile(`a\d+`)},
		{`#"say \"hi\""`, regexp.MustCompile(`say "hi"`)},
		{`#"\\"`, regexp.MustCompile(`\\`)},
		{`#my/tag 42`, Tagged{Tag: "my/tag", Value: int64(42)}},
		{`#point [1 2]`, Tagged{Tag: "point", Value: Vector{int64(1), int64(2)}}},
		{`#a #b 1`, Tagged{Tag: "a", Value: Tagged{Tag: "b", Value: int64(1)}}},
		{`#a #_ 1 2`, Tagged{Tag: "a", Value: int64(2)}},
		{`#db/id[:db.part/user -1]`, Tagged{Tag: "db/id", Value: Vector{Keyword("db.part/user"), int64(-1)}}},
		// Datomic-shaped input.
		{`[:find ?e . :in $ ?n :where [?e :person/name ?n]]`, Vector{
			Keyword("find"), Symbol("?e"), Symbol("."), Keyword("in"), Symbol("$"), Symbol("?n"),
			Keyword("where"), Vector{Symbol("?e"), Keyword("person/name"), Symbol("?n")},
		}},
	}
	for _, tc := range tests {
		got, err := ReadString(tc.in)
		if err != nil {
			t.Errorf("ReadString(%q): unexpected error %v", tc.in, err)
			continue
		}
		if !Equal(got, tc.want) {
			t.Errorf("ReadString(%q) = %s (%T), want %s (%T)", tc.in, String(got), got, String(tc.want), tc.want)
			continue
		}
		if gt, wt := typeName(got), typeName(tc.want); gt != wt {
			t.Errorf("ReadString(%q): got type %s, want %s", tc.in, gt, wt)
		}
	}
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return strings.TrimPrefix(reflect.TypeOf(v).String(), "edn.")
}

// TestReadErrors checks every reader error: its message and position.
func TestReadErrors(t *testing.T) {
	tests := []struct {
		in        string
		line, col int
		msg       string // substring of SyntaxError.Msg
	}{
		{"", 1, 1, "no value"},
		{"  ; only a comment\n", 2, 1, "no value"},
		{"#_ 1", 1, 5, "no value"},
		{"1 2", 1, 3, "unexpected data after the value"},
		{"[1 2", 1, 1, "unterminated vector"},
		{"\n  (1 2", 2, 3, "unterminated list"},
		{"{:a 1", 1, 1, "unterminated map or set"},
		{"#{1", 1, 1, "unterminated map or set"},
		{"[1 2)", 1, 5, `unexpected ')'`},
		{")", 1, 1, `unexpected ')'`},
		{"}", 1, 1, `unexpected '}'`},
		{"{:a}", 1, 1, "even number"},
		{"{:a 1 :b}", 1, 1, "even number"},
		{"{:a 1 :a 2}", 1, 7, "duplicate map key :a"},
		{"{1 :x\n 1N :y}", 2, 2, "duplicate map key 1N"},
		{"{[1 2] 0 (1 2) 0}", 1, 10, "duplicate map key (1 2)"},
		{"#{1 2 1}", 1, 7, "duplicate set element 1"},
		{"#{#{1 2} #{2 1}}", 1, 10, "duplicate set element"},
		{"#{1.0M 1.00M}", 1, 8, "duplicate set element"},
		{`"abc`, 1, 1, "unterminated string"},
		{"[1\n  \"abc", 2, 3, "unterminated string"},
		{`"abc\`, 1, 1, "unterminated string"},
		{`"a\qb"`, 1, 3, `invalid escape \q`},
		{`"\u12"`, 1, 2, "invalid \\u escape"},
		{`"\u12`, 1, 2, "truncated \\u escape"},
		{`"\uD800"`, 1, 2, "unpaired surrogate"},
		{`"\uDC00\uD800"`, 1, 2, "unpaired surrogate"},
		{"\"\xff\"", 1, 1, "not valid UTF-8"},
		{`\`, 1, 1, `unexpected end of input after \`},
		{`\abc`, 1, 1, `unsupported character \abc`},
		{`\uD800`, 1, 1, "surrogate"},
		{`\newlinex`, 1, 1, "unsupported character"},
		{"\\\xff", 1, 1, "not valid UTF-8"},
		{"\"\\n\xff\"", 1, 1, "not valid UTF-8"},
		{"#\"\xff\"", 1, 1, "regex is not valid UTF-8"},
		{`#"abc\`, 1, 1, "unterminated regex"},
		{"[1e999999M]", 1, 2, "invalid decimal 1e999999M"},
		{"01", 1, 1, "only 0 may begin with 0"},
		{"-007", 1, 1, "only 0 may begin with 0"},
		{"0x1F", 1, 1, "invalid number 0x1F"},
		{"1/2", 1, 1, "ratio 1/2 is not supported"},
		{"1e", 1, 1, "exponent has no digits"},
		{"1.5e+", 1, 1, "exponent has no digits"},
		{"1.5.5", 1, 1, "invalid number"},
		{"1NN", 1, 1, "invalid number"},
		{"1MM", 1, 1, "invalid number"},
		{"12abc", 1, 1, "invalid number"},
		{"1.5N", 1, 1, "invalid number"},
		{"[1 2 3abc]", 1, 6, "invalid number 3abc"},
		{":", 1, 1, "invalid keyword"},
		{"::a", 1, 1, "auto-resolved keyword"},
		{":a/", 1, 1, "invalid keyword"},
		{":/a", 1, 1, "invalid keyword"},
		{":a/b/c", 1, 1, "invalid keyword"},
		{"a/", 1, 1, "invalid symbol"},
		{"/a", 1, 1, "invalid symbol"},
		{"a/b/c", 1, 1, "invalid symbol"},
		{"-1a", 1, 1, "invalid number"},
		{".5", 1, 1, "invalid symbol"},
		{"a'b", 1, 1, "invalid symbol"},
		{"a|b", 1, 1, "invalid symbol"},
		{"@a", 1, 1, "invalid symbol"},
		{"ns/1a", 1, 1, "invalid symbol"},
		{"#", 1, 1, "unexpected end of input after '#'"},
		{"# a", 1, 1, "invalid dispatch"},
		{"#(+ 1)", 1, 1, "invalid dispatch"},
		{"#:a{:b 1}", 1, 1, "namespaced map"},
		{"#1 2", 1, 1, "invalid dispatch"},
		{"#a/ 1", 1, 1, "invalid tag"},
		{"#tag", 1, 1, "tag #tag needs a value"},
		{"[#tag]", 1, 6, "tag #tag needs a value after it, found ']'"},
		{"[1 #_]", 1, 6, "#_ needs a value after it"},
		{"#_", 1, 1, "#_ needs a value"},
		{"##", 1, 1, "unknown symbolic value ##"},
		{"##Infinity", 1, 1, "unknown symbolic value ##Infinity"},
		{"##nan", 1, 1, "unknown symbolic value"},
		{`#"unterminated`, 1, 1, "unterminated regex"},
		{`#"a(b"`, 1, 1, "invalid regex"},
		{`#inst 42`, 1, 7, "#inst needs a string, found 42"},
		{`#inst "2024-13-01T00:00:00Z"`, 1, 7, "invalid #inst"},
		{`#inst "yesterday"`, 1, 7, "invalid #inst"},
		{`#uuid "not-a-uuid"`, 1, 7, "invalid #uuid"},
		{`#uuid "f81d4fae7dec11d0a76500a0c91e6bf6"`, 1, 7, "invalid #uuid"},
		{`#uri "http://[::1"`, 1, 6, "invalid #uri"},
		{`#bytes "!!"`, 1, 8, "invalid #bytes"},
		{`#bytes [1]`, 1, 8, "#bytes needs a string"},
		{"[\n\n  #inst \"x\"]", 3, 9, "invalid #inst"},
		{"\"日本\" x y", 1, 6, "unexpected data"},
	}
	for _, tc := range tests {
		_, err := ReadString(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ReadString(%q): error %v, want a *SyntaxError", tc.in, err)
			continue
		}
		if se.Line != tc.line || se.Col != tc.col || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("ReadString(%q): got line %d col %d %q, want line %d col %d containing %q",
				tc.in, se.Line, se.Col, se.Msg, tc.line, tc.col, tc.msg)
		}
		if want := "edn: line "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ReadString(%q): error text %q does not start with %q", tc.in, err.Error(), want)
		}
	}
}

func TestSyntaxErrorText(t *testing.T) {
	_, err := ReadString("[1 2\n:ok\n    \"abc")
	want := "edn: line 3, col 5: unterminated string"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 13 {
		t.Fatalf("offset: got %+v, want 13", se)
	}
}

func TestReadDepthLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"vectors", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)},
		{"unclosed", strings.Repeat("(", 1000000)},
		{"sets", strings.Repeat("#{", 20000)},
		{"tags", strings.Repeat("#a ", 20000) + "1"},
		{"discards", strings.Repeat("#_ ", 20000) + "1 2"},
		{"maps", strings.Repeat("{1 ", 20000)},
	} {
		_, err := ReadString(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "nesting deeper than 10000") {
			t.Errorf("%s: got %v, want a nesting SyntaxError", tc.name, err)
		}
	}
	// Just under the limit is fine.
	in := strings.Repeat("[", 9999) + strings.Repeat("]", 9999)
	if _, err := ReadString(in); err != nil {
		t.Errorf("depth 9999: unexpected error %v", err)
	}
}

func TestReadAll(t *testing.T) {
	got, err := ReadAll([]byte("1 :a ; c\n [x] #_ 5 \"s\""))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(1), Keyword("a"), Vector{Symbol("x")}, "s"}
	if !Equal(got, want) || len(got) != len(want) {
		t.Fatalf("got %s, want %s", String(got), String(want))
	}
	got, err = ReadAll([]byte("  ; nothing\n"))
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty input: got %#v, %v; want empty non-nil slice", got, err)
	}
	_, err = ReadAll([]byte("1 2 ]"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Col != 5 {
		t.Fatalf("got %v, want SyntaxError at col 5", err)
	}
}

// TestReadCopiesInput: returned strings and bytes must not alias the input.
func TestReadCopiesInput(t *testing.T) {
	in := []byte(`["abc" #bytes "aGk=" :kw sym]`)
	v, err := Read(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'x'
	}
	want := Vector{"abc", []byte("hi"), Keyword("kw"), Symbol("sym")}
	if !Equal(v, want) {
		t.Fatalf("after overwriting input: got %s, want %s", String(v), String(want))
	}
}
