package edn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func decodeAll(d *Decoder) ([]any, error) {
	var out []any
	for {
		v, err := d.Decode()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func TestDecoderChunkings(t *testing.T) {
	in := "12345 678 :kw sym \"str\\\"ing\" \\newline 1.5e10 99999999999999999999 [1 (2) {3 4}] #{5} " +
		"#inst \"2024-01-02T03:04:05.123Z\" #my/tag 7 ##Inf ; comment\n #_ 1 2 \"日本語\" ; end"
	want, err := ReadAll([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return strings.NewReader(in) },
		"onebyte":  func() io.Reader { return iotest.OneByteReader(&sliceReader{b: []byte(in)}) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(in)) },
		"dataerr":  func() io.Reader { return iotest.DataErrReader(strings.NewReader(in)) },
		"timeout":  func() io.Reader { return &retryReader{r: iotest.OneByteReader(strings.NewReader(in))} },
		"twobytes": func() io.Reader { return &chunkReader{b: []byte(in), n: 2} },
	}
	for name, mk := range readers {
		got, err := decodeAll(NewDecoder(mk()))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: got %d values %s, want %d %s", name, len(got), String(got), len(want), String(want))
			continue
		}
		for i := range got {
			if !Equal(got[i], want[i]) || String(got[i]) != String(want[i]) {
				t.Errorf("%s: value %d = %s, want %s", name, i, String(got[i]), String(want[i]))
			}
		}
	}
}

// retryReader returns (0, nil) every other call, which io.Reader allows.
type retryReader struct {
	r    io.Reader
	flip bool
}

func (r *retryReader) Read(p []byte) (int, error) {
	r.flip = !r.flip
	if r.flip {
		return 0, nil
	}
	return r.r.Read(p)
}

type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(r.n, len(p), len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

func TestDecoderEmptyAndTrailing(t *testing.T) {
	for _, in := range []string{"", "   ", "; just a comment", "#_ [1 2]", " ,,, \n"} {
		v, err := NewDecoder(strings.NewReader(in)).Decode()
		if err != io.EOF {
			t.Errorf("Decode(%q) = %v, %v; want io.EOF", in, v, err)
		}
	}
	d := NewDecoder(strings.NewReader("1 #_ 2"))
	if v, err := d.Decode(); err != nil || !Equal(v, int64(1)) {
		t.Fatalf("first Decode = %v, %v; want 1", v, err)
	}
	for range 2 {
		if v, err := d.Decode(); err != io.EOF {
			t.Fatalf("Decode after last value = %v, %v; want io.EOF (repeatedly)", v, err)
		}
	}
}

// TestDecoderErrorPositions: positions count from the start of the stream,
// across buffer refills.
func TestDecoderErrorPositions(t *testing.T) {
	var b strings.Builder
	const lines = 5000
	for i := range lines {
		fmt.Fprintf(&b, "[:db/add %d :person/name \"name %d\"]\n", i, i)
	}
	offset := b.Len()
	b.WriteString("  {:a 1 :a 2}\n")
	d := NewDecoder(iotest.HalfReader(strings.NewReader(b.String())))
	n := 0
	var err error
	for {
		if _, err = d.Decode(); err != nil {
			break
		}
		n++
	}
	if n != lines {
		t.Errorf("decoded %d values before the error, want %d", n, lines)
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *SyntaxError", err)
	}
	want := SyntaxError{Line: lines + 1, Col: 9, Offset: offset + 8, Msg: "duplicate map key :a"}
	if *se != want {
		t.Fatalf("got %+v, want %+v", *se, want)
	}
	// Errors are sticky.
	if _, err2 := d.Decode(); err2 != err {
		t.Fatalf("second Decode after error = %v, want the same error %v", err2, err)
	}
}

func TestDecoderReaderError(t *testing.T) {
	boom := errors.New("boom")
	d := NewDecoder(io.MultiReader(strings.NewReader("1 [2 "), iotest.ErrReader(boom)))
	if v, err := d.Decode(); err != nil || !Equal(v, int64(1)) {
		t.Fatalf("first Decode = %v, %v; want 1", v, err)
	}
	_, err := d.Decode()
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "edn: read: ") {
		t.Fatalf("got %v, want an \"edn: read: \" error wrapping %v", err, boom)
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		t.Fatalf("reader failure reported as a syntax error: %v", err)
	}
}

// TestDecoderTruncated: a stream cut in the middle of a value reports the
// same error as Read.
func TestDecoderTruncated(t *testing.T) {
	for _, in := range []string{"[1 2", "\"abc", "#inst", "#{1 ", `\`, "{:a", "#", "1 (2"} {
		_, wantErr := ReadAll([]byte(in))
		_, err := decodeAll(NewDecoder(iotest.OneByteReader(strings.NewReader(in))))
		var a, b *SyntaxError
		if !errors.As(wantErr, &a) || !errors.As(err, &b) || *a != *b {
			t.Errorf("%q: Decoder error %v, ReadAll error %v; want the same", in, err, wantErr)
		}
	}
}

// TestDecoderBoundedBuffer: decoding a long stream of small values does not
// hold the whole stream in memory.
func TestDecoderBoundedBuffer(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 4<<20; i++ {
		fmt.Fprintf(&b, "{:db/id %d :person/name \"n%d\" :person/age %d}\n", i, i, i%100)
	}
	total := b.Len()
	d := NewDecoder(&b)
	n, err := decodeAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(n) == 0 {
		t.Fatal("decoded nothing")
	}
	if c := cap(d.buf); c > 4*minRead {
		t.Fatalf("buffer grew to %d bytes for a %d-byte stream of small values; want <= %d", c, total, 4*minRead)
	}
}

// TestDecoderReparseBound: a big value delivered one byte at a time is
// parsed a bounded number of times (once per line while small, then once
// per doubling of the buffer), not once per byte.
func TestDecoderReparseBound(t *testing.T) {
	data := benchTx(2 << 20)
	d := NewDecoder(iotest.OneByteReader(&sliceReader{b: data}))
	v, err := d.Decode()
	if err != nil {
		t.Fatal(err)
	}
	want, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(v, want) {
		t.Fatal("decoded value differs from Read's")
	}
	lines := bytes.Count(data[:minRead], []byte("\n"))
	if limit := lines + 20; d.attempts > limit {
		t.Fatalf("%d parse attempts for a %d-byte value; want at most %d", d.attempts, len(data), limit)
	}
	t.Logf("%d parse attempts for %d bytes", d.attempts, len(data))
}
