package edn

import (
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

var fuzzSeeds = []string{
	``, `nil`, `true`, `[1 2.5 -3N 1.5M :a/b foo "x\ny" \a \newline #{1 2} {:a 1 "b" [2]}]`,
	`#inst "2024-01-02T03:04:05.123Z"`, `#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"`,
	`#uri "http://x/y?z"`, `#bytes "aGVsbG8="`, `#"a\"b\d"`, `##NaN ##Inf ##-Inf`, `#my/tag (1)`,
	`#{##NaN ##NaN}`, `{:a ##NaN}`, `"\uD83D\uDE00"`, `\u00e9`, `#_ #_ 1 2 3`, `; c` + "\n" + `(a b)`,
	`[:find ?e . :in $ % ?x :where [?e :a/b ?x] (rule ?e) [(> ?x 1)]]`,
	`[{:db/id "t" :person/name "Ann" :person/_friend [:person/id 1]}]`,
	`{:a {:b {:c [1 2 #{3}]}}}`, `9223372036854775808`, `1e999`, `0.1`, `-0.0`, `1/2`, `01`,
	`::a`, `#:a{:b 1}`, `[[[[[[`, `"unterminated`, `{:a 1 :a 2}`, `#inst "2024"`, `:1`, `/`, `...`,
	"\"\xff\"", `\uD800`, `#uri "%zz"`, `#uri "http://a b"`, `#bytes "aGk"`,
}

// FuzzRead: no input makes Read panic; whatever reads prints, and reads
// back equal with the same text.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Read(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Read(%q): error %v is not a *SyntaxError", data, err)
			}
			if se.Offset < 0 || se.Offset > len(data) || se.Line < 1 || se.Col < 1 {
				t.Fatalf("Read(%q): position out of range: %+v", data, se)
			}
			return
		}
		text, err := Marshal(v)
		if err != nil {
			t.Fatalf("Read(%q) = %#v, which Marshal refuses: %v", data, v, err)
		}
		back, err := Read(text)
		if err != nil {
			t.Fatalf("Read(%q) printed as %s, which does not read: %v", data, text, err)
		}
		if !equal(back, v, true) {
			t.Fatalf("Read(%q) printed as %s reads back as %s, not equal", data, text, String(back))
		}
		again, err := Marshal(back)
		if err != nil || string(again) != string(text) {
			t.Fatalf("Read(%q): printed %s, then %s (%v)", data, text, again, err)
		}
	})
}

// FuzzDecoder: the streaming Decoder, fed one byte at a time, agrees with
// ReadAll on the values and on the first error.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := ReadAll(data)
		d := NewDecoder(iotest.OneByteReader(&sliceReader{b: data}))
		var got []any
		var gotErr error
		for {
			v, err := d.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				gotErr = err
				break
			}
			got = append(got, v)
		}
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("input %q: ReadAll error %v, Decoder error %v", data, wantErr, gotErr)
		}
		if wantErr != nil {
			var a, b *SyntaxError
			if !errors.As(wantErr, &a) || !errors.As(gotErr, &b) || *a != *b {
				t.Fatalf("input %q: ReadAll error %v, Decoder error %v", data, wantErr, gotErr)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("input %q: Decoder read %d values, ReadAll %d", data, len(got), len(want))
		}
		for i := range got {
			if !equal(got[i], want[i], true) || String(got[i]) != String(want[i]) {
				t.Fatalf("input %q: value %d: Decoder %s, ReadAll %s", data, i, String(got[i]), String(want[i]))
			}
		}
	})
}

// sliceReader hides bytes.Reader's WriterTo so reads really go byte by byte.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
