package edn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Decoder reads a stream of EDN values from an io.Reader, one per Decode
// call, without holding more of the stream in memory than the value being
// read (plus one read chunk). It is meant for big imports: an export of a
// whole database is a long sequence of top-level values.
//
// A Decoder is not safe for concurrent use. Values it returns share no
// memory with its buffer.
type Decoder struct {
	r   io.Reader
	buf []byte // buf[start:] is unread input
	// start is the offset in buf of the first unread byte.
	start int
	eof   bool  // r has reported io.EOF
	err   error // sticky error
	// pending is a read error held back until the data read before it
	// has been parsed.
	pending error

	// Stream position of buf[0], for error positions.
	base, line, col int

	intern map[string]any
	stack  []any // the parser's element stack, reused across values
	offs   []int

	attempts int // parses started, for tests of the re-parse bound
}

// NewDecoder returns a Decoder reading from r. It buffers r itself.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, line: 1, col: 1}
}

// minRead is the smallest chunk a Decoder asks its reader for.
const minRead = 32 << 10

// Decode returns the next value in the stream, or io.EOF when only
// whitespace, comments and discarded forms remain. It returns a value once
// some input after it has arrived (a newline will do), since a number or
// symbol at the very end of what has been read so far might continue.
// Syntax errors are *SyntaxError with positions counted from the start of
// the stream; errors from the underlying reader are wrapped, and reported
// after the values read before them. After an error, Decode returns the same
// error again.
func (d *Decoder) Decode() (any, error) {
	if d.err != nil {
		return nil, d.err
	}
	for {
		d.attempts++
		p := parser{
			data:   d.buf[d.start:],
			atEOF:  d.eof,
			base:   d.base,
			line:   d.line,
			col:    d.col,
			pre:    d.buf[:d.start],
			intern: d.intern,
			stack:  d.stack[:0],
			offs:   d.offs[:0],
		}
		v, end, err := p.next(0, 0)
		d.intern, d.stack, d.offs = p.intern, p.stack, p.offs
		switch {
		case err == nil && !end:
			// A value that ends exactly at the end of the buffer might
			// continue (a number or symbol cut by the chunk boundary).
			if p.pos < len(p.data) || d.eof {
				d.start += p.pos
				return v, nil
			}
		case err == nil && end:
			if d.eof {
				d.start += p.pos
				d.err = io.EOF
				return nil, io.EOF
			}
		case !p.short:
			d.err = err
			return nil, err
		}
		if err := d.fill(); err != nil {
			d.err = err
			return nil, err
		}
	}
}

// fill drops consumed input and reads at least as much again as is
// unread, so that re-parsing a long value after each read stays linear
// overall.
func (d *Decoder) fill() error {
	if d.pending != nil {
		return d.pending
	}
	if d.eof {
		// Unreachable: a parser at EOF does not ask for more.
		return errors.New("edn: internal error: read past end of input")
	}
	if d.start > 0 {
		// Consumed input always ends after a whole value, so the column
		// count never splits a UTF-8 sequence.
		d.line, d.col = advance(d.line, d.col, d.buf[:d.start])
		d.base += d.start
		n := copy(d.buf, d.buf[d.start:])
		d.buf = d.buf[:n]
		d.start = 0
	}
	want := len(d.buf) * 2
	if want < minRead {
		want = minRead
	}
	if cap(d.buf) < want {
		nb := make([]byte, len(d.buf), want)
		copy(nb, d.buf)
		d.buf = nb
	}
	unread := len(d.buf)
	for len(d.buf) < want {
		n, err := d.r.Read(d.buf[len(d.buf):want])
		d.buf = d.buf[:len(d.buf)+n]
		if errors.Is(err, io.EOF) {
			d.eof = true
			return nil
		}
		if err != nil {
			err = fmt.Errorf("edn: read: %w", err)
			if n > 0 || len(d.buf) > 0 {
				// Let the parser return the values read before the failure;
				// the next fill reports it.
				d.pending = err
				return nil
			}
			return err
		}
		if n > 0 && unread < minRead && bytes.IndexByte(d.buf[len(d.buf)-n:], '\n') >= 0 {
			// A small value may be complete at the end of a line: let the
			// parser try rather than wait for a full chunk (interactive
			// input). Waiting for a newline bounds the re-parsing when the
			// reader hands out tiny pieces.
			return nil
		}
	}
	return nil
}
