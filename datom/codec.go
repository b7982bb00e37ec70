package datom

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"
)

// DatomsVersion is the first byte of EncodeDatoms output.
const DatomsVersion = 1

const (
	maxPart = 1<<(63-PartShift) - 1 // partitions are id >> PartShift
	minPart = -(1 << (63 - PartShift))
	maxN    = 1<<PartShift - 1
	// refFormMaxPart bounds the partitions whose ids are written in the
	// split (ref) form.
	refFormMaxPart = 255
	// datomFixedObjects is the number of msgpack objects of a datom besides
	// its value's payload: e-part, e-n, a, tag, tx-part, tx-n, added.
	datomFixedObjects = 7
)

// IndexCodec encodes and decodes the datoms of one index in nodes; it
// implements node.KeyCodec[Datom]. Every index uses the same datom encoding
// (see the package doc), but each has its own ID, because the ID also names
// the order of the keys in a node. It is stateless and safe for concurrent
// use.
type IndexCodec struct {
	idx Index
	id  string
}

// Codec returns the node key codec for idx, whose ID is
// "accrete.datom.<index>.v1" ("accrete.datom.eavt.v1", …).
func Codec(idx Index) *IndexCodec {
	return &IndexCodec{idx: idx, id: "accrete.datom." + idx.String() + ".v1"}
}

// ID names the datom encoding and the index order; nodes record it.
func (c *IndexCodec) ID() string { return c.id }

// Index returns the index whose order the codec's ID names.
func (c *IndexCodec) Index() Index { return c.idx }

// EncodeKey writes one datom. It fails with ErrUnencodable when V has no
// encoding (see ErrUnencodable), writing nothing.
func (c *IndexCodec) EncodeKey(enc *msgpack.Encoder, d Datom) error {
	if buf, ok := enc.Writer().(*bytes.Buffer); ok {
		// node encodes into a bytes.Buffer: the datom is appended to its
		// spare capacity and written onto itself, with no scratch buffer
		// (a pool round trip per datom cost a third of encoding a node).
		b, err := appendDatom(buf.AvailableBuffer(), d)
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
	bp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(bp)
	b, err := appendDatom((*bp)[:0], d)
	*bp = b
	if err != nil {
		return err
	}
	if _, err := enc.Writer().Write(b); err != nil {
		return fmt.Errorf("datom: write datom: %w", err)
	}
	return nil
}

// scratchPool holds encoding buffers for EncodeKey when it writes to
// another io.Writer than a bytes.Buffer (a stack buffer would escape).
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// DecodeKey reads one datom, returning an error matching ErrCorrupt (never
// panicking) on malformed or non-canonical input.
//
// When the decoder reads from a *bytes.Reader (as node does), the datom is
// parsed from a window of the reader's bytes (decodeFromReader): a stack
// window, without intermediate allocations, for a datom that fits in it, a
// heap window for a longer one. From any other reader it goes through
// msgpack's DecodeRaw.
func (c *IndexCodec) DecodeKey(dec *msgpack.Decoder) (Datom, error) {
	if r, ok := dec.Buffered().(*bytes.Reader); ok {
		return decodeFromReader(r)
	}
	raw, err := dec.DecodeRaw()
	if err != nil {
		return Datom{}, corruptf("read datom: %v", err)
	}
	p := parser{b: raw}
	d, err := p.datom()
	if err == nil && p.remaining() != 0 {
		err = corruptf("datom: %d bytes after the datom", p.remaining())
	}
	return d, err
}

// decodeWindow bounds the bytes decodeFromReader parses in a stack window.
const decodeWindow = 128

// decodeFromReader parses one datom from the unread bytes of r and advances
// r past it. A datom longer than the stack window is parsed again from a
// heap window that doubles until the datom fits, a parse fails for another
// reason than running out of bytes, or the window holds all of r's bytes:
// at most about twice the datom's own bytes are copied, and nothing is
// sized by a length the bytes declare. (msgpack's DecodeRaw, used here
// before, skips by the declared lengths, and its decoder, which node pools,
// kept a buffer grown by a megabyte for every string claiming gigabytes:
// FuzzChildren drove it to hundreds of megabytes.)
func decodeFromReader(r *bytes.Reader) (Datom, error) {
	n := r.Len()
	var win [decodeWindow]byte
	w := win[:min(n, decodeWindow)]
	pos := r.Size() - int64(n)
	if _, err := r.ReadAt(w, pos); err != nil && len(w) > 0 {
		return Datom{}, corruptf("read datom: %v", err)
	}
	p := parser{b: w}
	d, err := p.datom()
	for errors.Is(err, errTruncated) && len(w) < n {
		w = make([]byte, min(n, max(2*len(w), 4096)))
		if _, rerr := r.ReadAt(w, pos); rerr != nil {
			return Datom{}, corruptf("read datom: %v", rerr)
		}
		p = parser{b: w}
		d, err = p.datom()
	}
	if err != nil {
		return Datom{}, err
	}
	if _, err := r.Seek(int64(p.off), io.SeekCurrent); err != nil {
		return Datom{}, corruptf("advance reader: %v", err)
	}
	return d, nil
}

// AppendDatom appends the encoding of d (one msgpack array, as EncodeKey
// writes it) to b. It fails with ErrUnencodable when V has no encoding.
func AppendDatom(b []byte, d Datom) ([]byte, error) { return appendDatom(b, d) }

// DecodeDatom decodes one datom from the start of b, as written by
// AppendDatom, and returns it with the number of bytes it took.
func DecodeDatom(b []byte) (Datom, int, error) {
	p := parser{b: b}
	d, err := p.datom()
	return d, p.off, err
}

// EncodeDatoms encodes a list of datoms, in the given order, as the
// DatomsVersion byte followed by a msgpack array of datoms: the payload of a
// transaction log tail node. The output is deterministic.
func EncodeDatoms(datoms []Datom) ([]byte, error) {
	b := make([]byte, 0, 6+20*len(datoms))
	b = append(b, DatomsVersion)
	b = appendArrayLen(b, len(datoms))
	var err error
	for i, d := range datoms {
		if b, err = appendDatom(b, d); err != nil {
			return nil, fmt.Errorf("datom: encode datom %d: %w", i, err)
		}
	}
	return b, nil
}

// DecodeDatoms decodes the output of EncodeDatoms. Any malformed input,
// including trailing bytes, yields an error matching ErrCorrupt. The datoms
// do not alias b.
func DecodeDatoms(b []byte) ([]Datom, error) {
	if len(b) == 0 {
		return nil, corruptf("datoms: empty input")
	}
	if b[0] != DatomsVersion {
		return nil, corruptf("datoms: unknown version %d", b[0])
	}
	p := parser{b: b, off: 1}
	n, err := p.listLen(minDatomBytes)
	if err != nil {
		return nil, fmt.Errorf("datom: datoms: %w", err)
	}
	out := make([]Datom, n)
	for i := range out {
		if out[i], err = p.datom(); err != nil {
			return nil, fmt.Errorf("datom: datoms[%d]: %w", i, err)
		}
	}
	if p.remaining() != 0 {
		return nil, corruptf("datoms: %d trailing bytes", p.remaining())
	}
	return out, nil
}

// minDatomBytes is the size of the smallest encoded datom.
const minDatomBytes = 9

func appendDatom(b []byte, d Datom) ([]byte, error) {
	k, err := payloadObjects(d.V, false)
	if err != nil {
		return b, err
	}
	b = appendArrayLen(b, datomFixedObjects+k)
	b = appendSplitID(b, d.E)
	b = appendInt(b, d.A)
	b = appendValue(b, d.V)
	b = appendSplitID(b, d.Tx)
	return appendBool(b, d.Added), nil
}

func appendSplitID(b []byte, id ID) []byte {
	return appendInt(appendInt(b, id>>PartShift), id&maxN)
}

func isRefForm(x int64) bool {
	p := x >> PartShift
	return p >= 1 && p <= refFormMaxPart
}

// payloadObjects returns the number of msgpack objects of v's payload (after
// its tag), validating that v can be encoded. inTuple allows nil and forbids
// tuples.
func payloadObjects(v any, inTuple bool) (int, error) {
	switch x := v.(type) {
	case nil:
		if inTuple {
			return 0, nil
		}
	case bool, float64, string, []byte, uuid.UUID:
		return 1, nil
	case int64:
		if isRefForm(x) {
			return 2, nil
		}
		return 1, nil
	case *big.Int:
		if x != nil {
			return 2, nil
		}
	case *apd.Decimal:
		if x != nil && x.Form == apd.Finite && x.Coeff.Sign() >= 0 {
			return 3, nil
		}
		return 0, fmt.Errorf("%w: bigdec %v is not finite", ErrUnencodable, v)
	case time.Time:
		if x.Nanosecond()%int(time.Millisecond) != 0 {
			return 0, fmt.Errorf("%w: instant %v has sub-millisecond precision", ErrUnencodable, x)
		}
		return 1, nil
	case edn.Keyword:
		if x != "" {
			return 1, nil
		}
	case edn.Symbol:
		if x != "" {
			return 1, nil
		}
	case *url.URL:
		if x != nil {
			if !canonicalURL(x) {
				return 0, fmt.Errorf("%w: uri %q does not parse back to itself", ErrUnencodable, x.String())
			}
			return 1, nil
		}
	case edn.Vector, []any:
		if inTuple {
			return 0, fmt.Errorf("%w: nested tuple", ErrUnencodable)
		}
		t, _ := asTuple(v)
		if len(t) < MinTupleLen || len(t) > MaxTupleLen {
			return 0, fmt.Errorf("%w: tuple of %d elements", ErrUnencodable, len(t))
		}
		for _, e := range t {
			if _, err := payloadObjects(e, true); err != nil {
				return 0, err
			}
		}
		return 1, nil
	}
	return 0, fmt.Errorf("%w: %T %s", ErrUnencodable, v, shortValue(v))
}

// appendValue writes v's tag and payload; v was validated by payloadObjects.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 0)
	case bool:
		return appendBool(append(b, byte(TypeBoolean)), x)
	case int64:
		if isRefForm(x) {
			return appendSplitID(append(b, byte(TypeRef)), x)
		}
		return appendInt(append(b, byte(TypeLong)), x)
	case *big.Int:
		b = appendBool(append(b, byte(TypeBigInt)), x.Sign() < 0)
		return appendBin(b, new(big.Int).Abs(x).Bytes())
	case float64:
		return appendFloat64(append(b, byte(TypeDouble)), x)
	case *apd.Decimal:
		b = appendBool(append(b, byte(TypeBigDec)), x.Negative)
		b = appendInt(b, int64(x.Exponent))
		return appendBin(b, x.Coeff.Bytes())
	case time.Time:
		return appendInt(append(b, byte(TypeInstant)), x.UnixMilli())
	case uuid.UUID:
		return appendBin(append(b, byte(TypeUUID)), x[:])
	case string:
		return appendStr(append(b, byte(TypeString)), x)
	case edn.Keyword:
		return appendStr(append(b, byte(TypeKeyword)), x)
	case edn.Symbol:
		return appendStr(append(b, byte(TypeSymbol)), x)
	case *url.URL:
		return appendStr(append(b, byte(TypeURI)), x.String())
	case []byte:
		return appendBin(append(b, byte(TypeBytes)), x)
	case edn.Vector, []any:
		t, _ := asTuple(v)
		n := 0
		for _, e := range t {
			k, _ := payloadObjects(e, true)
			n += 1 + k
		}
		b = appendArrayLen(append(b, byte(TypeTuple)), n)
		for _, e := range t {
			b = appendValue(b, e)
		}
		return b
	}
	return b // unreachable after payloadObjects
}

func (p *parser) datom() (Datom, error) {
	var d Datom
	n, err := p.arrayLen()
	if err != nil {
		return d, err
	}
	if n < datomFixedObjects+1 || n > datomFixedObjects+3 {
		return d, corruptf("datom of %d fields", n)
	}
	if d.E, err = p.splitID(); err != nil {
		return d, fmt.Errorf("e: %w", err)
	}
	if d.A, err = p.int(); err != nil {
		return d, fmt.Errorf("a: %w", err)
	}
	v, k, err := p.value(false)
	if err != nil {
		return d, fmt.Errorf("v: %w", err)
	}
	d.V = v
	if n != datomFixedObjects+k {
		return d, corruptf("datom of %d fields, value has %d", n, k)
	}
	if d.Tx, err = p.splitID(); err != nil {
		return d, fmt.Errorf("tx: %w", err)
	}
	if d.Added, err = p.bool(); err != nil {
		return d, fmt.Errorf("added: %w", err)
	}
	return d, nil
}

func (p *parser) splitID() (ID, error) {
	part, err := p.int()
	if err != nil {
		return 0, err
	}
	n, err := p.int()
	if err != nil {
		return 0, err
	}
	if part < minPart || part > maxPart || n < 0 || n > maxN {
		return 0, corruptf("id part %d n %d out of range", part, n)
	}
	return MakeID(part, n), nil
}

// magnitude reads a big-endian magnitude without leading zero bytes.
func (p *parser) magnitude() ([]byte, error) {
	b, err := p.bin()
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && b[0] == 0 {
		return nil, corruptf("magnitude with a leading zero byte")
	}
	return b, nil
}

// value reads a tag and its payload, returning the value and the number of
// payload objects read.
func (p *parser) value(inTuple bool) (any, int, error) {
	tag, err := p.int()
	if err != nil {
		return nil, 0, err
	}
	switch ValueType(tag) {
	case TypeInvalid:
		if tag == 0 && inTuple {
			return nil, 0, nil
		}
	case TypeBoolean:
		b, err := p.bool()
		return b, 1, err
	case TypeLong:
		x, err := p.int()
		if err == nil && isRefForm(x) {
			err = corruptf("long %d must use the ref form", x)
		}
		return x, 1, err
	case TypeRef:
		x, err := p.splitID()
		if err == nil && !isRefForm(x) {
			err = corruptf("ref %d must use the long form", x)
		}
		return x, 2, err
	case TypeBigInt:
		neg, err := p.bool()
		if err != nil {
			return nil, 0, err
		}
		mag, err := p.magnitude()
		if err != nil {
			return nil, 0, err
		}
		if neg && len(mag) == 0 {
			return nil, 0, corruptf("negative zero bigint")
		}
		x := new(big.Int).SetBytes(mag)
		if neg {
			x.Neg(x)
		}
		return x, 2, nil
	case TypeDouble:
		f, err := p.float64()
		return f, 1, err
	case TypeBigDec:
		neg, err := p.bool()
		if err != nil {
			return nil, 0, err
		}
		exp, err := p.int()
		if err != nil {
			return nil, 0, err
		}
		if exp < math.MinInt32 || exp > math.MaxInt32 {
			return nil, 0, corruptf("bigdec exponent %d", exp)
		}
		mag, err := p.magnitude()
		if err != nil {
			return nil, 0, err
		}
		d := &apd.Decimal{Form: apd.Finite, Negative: neg, Exponent: int32(exp)}
		d.Coeff.SetBytes(mag)
		return d, 3, nil
	case TypeInstant:
		ms, err := p.int()
		return time.UnixMilli(ms).UTC(), 1, err
	case TypeUUID:
		b, err := p.bin()
		if err != nil {
			return nil, 0, err
		}
		if len(b) != 16 {
			return nil, 0, corruptf("uuid of %d bytes", len(b))
		}
		return uuid.UUID(b), 1, nil
	case TypeString:
		b, err := p.strBytes()
		if err != nil {
			return nil, 0, err
		}
		return internStringBytes(b), 1, nil
	case TypeKeyword, TypeSymbol:
		b, err := p.strBytes()
		if err != nil {
			return nil, 0, err
		}
		if len(b) == 0 {
			return nil, 0, corruptf("empty %s", ValueType(tag))
		}
		if ValueType(tag) == TypeKeyword {
			return internKeywordBytes(b), 1, nil
		}
		return edn.Symbol(b), 1, nil
	case TypeURI:
		s, err := p.str()
		if err != nil {
			return nil, 0, err
		}
		u, err := url.Parse(s)
		if err != nil || u.String() != s {
			return nil, 0, corruptf("uri %q is not canonical", s)
		}
		return u, 1, nil
	case TypeBytes:
		b, err := p.bin()
		return b, 1, err
	case TypeTuple:
		if inTuple {
			return nil, 0, corruptf("nested tuple")
		}
		m, err := p.arrayLen()
		if err != nil {
			return nil, 0, err
		}
		var t edn.Vector
		for read := 0; read < m; {
			if len(t) == MaxTupleLen {
				return nil, 0, corruptf("tuple longer than %d", MaxTupleLen)
			}
			e, k, err := p.value(true)
			if err != nil {
				return nil, 0, fmt.Errorf("tuple element %d: %w", len(t), err)
			}
			t = append(t, e)
			read += 1 + k
			if read > m {
				return nil, 0, corruptf("tuple elements overrun its %d objects", m)
			}
		}
		if len(t) < MinTupleLen {
			return nil, 0, corruptf("tuple of %d elements", len(t))
		}
		return t, 1, nil
	}
	return nil, 0, corruptf("unknown value tag %d", tag)
}
