package edn

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestMarshalText pins the printed form of each type.
func TestMarshalText(t *testing.T) {
	var nilBig *big.Int
	var nilMap map[string]any
	tests := []struct {
		in   any
		want string
	}{
		{nil, "nil"},
		{true, "true"},
		{false, "false"},
		{int64(-42), "-42"},
		{42, "42"},
		{int8(-8), "-8"},
		{int16(16), "16"},
		{int32(32), "32"},
		{uint(7), "7"},
		{uint8(8), "8"},
		{uint16(16), "16"},
		{uint32(32), "32"},
		{uint64(math.MaxUint64), "18446744073709551615N"},
		{uint64(5), "5"},
		{bigInt("123456789012345678901234567890"), "123456789012345678901234567890N"},
		{bigInt("5"), "5N"},
		{nilBig, "nil"},
		{1.0, "1.0"},
		{-0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1.5, "1.5"},
		{100000.0, "100000.0"},
		{1e21, "1e+21"},
		{1.5e-7, "1.5e-07"},
		{0.001, "0.001"},
		{float32(0.5), "0.5"},
		{math.Inf(1), "##Inf"},
		{math.Inf(-1), "##-Inf"},
		{math.NaN(), "##NaN"},
		{dec("1.50"), "1.50M"},
		{dec("1e2"), "1E+2M"},
		{dec("-0.001"), "-0.001M"},
		{"", `""`},
		{"a\"b\\c\nd\te\rf", `"a\"b\\c\nd\te\rf"`},
		{"\x00\x1f\x7f", `"\u0000\u001f\u007f"`},
		{"日本 😀", `"日本 😀"`},
		{Keyword("person/name"), ":person/name"},
		{Keyword("1"), ":1"},
		{Symbol("?e"), "?e"},
		{Symbol("/"), "/"},
		{Symbol("..."), "..."},
		{Char('a'), `\a`},
		{Char('\n'), `\newline`},
		{Char(' '), `\space`},
		{Char('\t'), `\tab`},
		{Char('\r'), `\return`},
		{Char('\b'), `\backspace`},
		{Char('\f'), `\formfeed`},
		{Char(0), `\u0000`},
		{Char(0xa0), `\u00a0`},
		{Char('('), `\(`},
		{Char('é'), `\é`},
		{Char('😀'), `\😀`},
		{List{int64(1), Symbol("a")}, "(1 a)"},
		{List(nil), "()"},
		{Vector{}, "[]"},
		{Vector{int64(1), Vector{"x"}}, `[1 ["x"]]`},
		{Set{int64(1), int64(2)}, "#{1 2}"},
		{Map{{Keyword("b"), int64(1)}, {Keyword("a"), int64(2)}}, "{:b 1, :a 2}"},
		{MapEntry{Keyword("a"), int64(1)}, "[:a 1]"},
		{Tagged{Tag: "my/tag", Value: Vector{int64(1)}}, "#my/tag [1]"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), `#inst "2024-01-02T03:04:05Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 120e6, time.UTC), `#inst "2024-01-02T03:04:05.120Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 123456e3, time.UTC), `#inst "2024-01-02T03:04:05.123456Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 1, time.UTC), `#inst "2024-01-02T03:04:05.000000001Z"`},
		{time.Date(2024, 1, 2, 4, 4, 5, 0, time.FixedZone("x", 3600)), `#inst "2024-01-02T03:04:05Z"`},
		{uuid.MustParse("F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6"), `#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"`},
		{mustURL("http://example.com/a b"), `#uri "http://example.com/a%20b"`},
		{[]byte("hello"), `#bytes "aGVsbG8="`},
		{[]byte{}, `#bytes ""`},
		{regexp.MustCompile(`a\d+"`), `#"a\d+\""`},
		{regexp.MustCompile(`\\`), `#"\\"`},
		// Go values.
		{[]any{1, "a"}, `[1 "a"]`},
		{[]string{"a", "b"}, `["a" "b"]`},
		{[]int64{1, 2}, `[1 2]`},
		{[2]int{1, 2}, `[1 2]`},
		{[]Keyword{"a"}, `[:a]`},
		{map[string]any{"b": 1, "a": []any{true}}, `{"a" [true], "b" 1}`},
		{map[Keyword]any{"z": 1, "a/b": nil, "m": 2}, `{:a/b nil, :m 2, :z 1}`},
		{map[any]any{int64(2): "x", Keyword("k"): 1, "s": 3}, `{"s" 3, 2 "x", :k 1}`},
		{map[int]string{10: "a", 9: "b"}, `{10 "a", 9 "b"}`},
		{nilMap, `{}`},
		{(*int)(nil), "nil"},
		{email("a@b.c"), `"a@b.c"`},
		{onOff(true), "true"},
		{level(3), "3"},
		{ratio(0.5), "0.5"},
		{[]email{"x"}, `["x"]`},
	}
	for _, tc := range tests {
		got, err := Marshal(tc.in)
		if err != nil {
			t.Errorf("Marshal(%#v): unexpected error %v", tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("Marshal(%#v) = %s, want %s", tc.in, got, tc.want)
		}
		// And it reads back equal (NaN aside).
		back, err := Read(got)
		if err != nil {
			t.Errorf("Read(Marshal(%#v)) = error %v", tc.in, err)
			continue
		}
		if !equal(back, tc.in, true) {
			t.Errorf("Read(%s) = %s, not equal to the input %#v", got, String(back), tc.in)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	cyc := []any{nil}
	cyc[0] = cyc
	x := 1
	tests := []struct {
		name string
		in   any
	}{
		{"struct", struct{ A int }{1}},
		{"chan", make(chan int)},
		{"func", func() {}},
		{"pointer", &x},
		{"invalid utf8", "\xff"},
		{"bad keyword", Keyword("a b")},
		{"empty keyword", Keyword("")},
		{"auto keyword", Keyword(":a")},
		{"bad symbol", Symbol("1a")},
		{"nil symbol", Symbol("nil")},
		{"true symbol", Symbol("true")},
		{"empty symbol", Symbol("")},
		{"bad char", Char(0xD800)},
		{"char out of range", Char(0x110000)},
		{"set dup", Set{int64(1), bigInt("1")}},
		{"map dup", Map{{Keyword("a"), 1}, {Keyword("a"), 2}}},
		{"go map dup", map[any]any{1: "a", int64(1): "b"}},
		{"builtin tag", Tagged{Tag: "inst", Value: "x"}},
		{"discard tag", Tagged{Tag: "_", Value: "x"}},
		{"bad tag", Tagged{Tag: "1a", Value: "x"}},
		{"nan decimal", dec("NaN")},
		{"inf decimal", dec("Infinity")},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year -1", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"cycle", cyc},
		{"nested bad", Vector{int64(1), Map{{Keyword("k"), struct{}{}}}}},
	}
	for _, tc := range tests {
		b, err := Marshal(tc.in)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Marshal = %q, %v; want an error wrapping ErrUnsupported", tc.name, b, err)
		}
	}
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Vector{Keyword("a"), int64(1)}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "[:a 1]"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	buf.Reset()
	if err := Write(&buf, Vector{make(chan int)}); !errors.Is(err, ErrUnsupported) || buf.Len() != 0 {
		t.Fatalf("unsupported: got %v and %q written; want ErrUnsupported and nothing written", err, buf.String())
	}
	werr := errors.New("disk full")
	if err := Write(failWriter{werr}, int64(1)); !errors.Is(err, werr) {
		t.Fatalf("failing writer: got %v, want it to wrap %v", err, werr)
	}
}

type (
	email string
	onOff bool
	level uint16
	ratio float32
)

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestString(t *testing.T) {
	if got, want := String(Map{{Keyword("a"), "x"}}), `{:a "x"}`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := String(struct{ A int }{7}), "{7}"; got != want {
		t.Errorf("String of unsupported = %q, want the %%v text %q", got, want)
	}
}

func TestCharString(t *testing.T) {
	for c, want := range map[Char]string{'a': `\a`, '\n': `\newline`, 0xD800: "Char(0xd800)"} {
		if got := c.String(); got != want {
			t.Errorf("Char(%#x).String() = %q, want %q", rune(c), got, want)
		}
		if got := String(c); got != want {
			t.Errorf("String(Char(%#x)) = %q, want %q", rune(c), got, want)
		}
	}
}
