package datom

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
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
// encoding (see ErrUnencodable).
func (c *IndexCodec) EncodeKey(enc *msgpack.Encoder, d Datom) error {
	return encodeDatom(enc, d)
}

// DecodeKey reads one datom, returning an error matching ErrCorrupt (never
// panicking) on malformed or non-canonical input.
func (c *IndexCodec) DecodeKey(dec *msgpack.Decoder) (Datom, error) {
	return decodeDatom(dec)
}

// EncodeDatoms encodes a list of datoms, in the given order, as the
// DatomsVersion byte followed by a msgpack array of datoms: the payload of a
// transaction log tail node. The output is deterministic.
func EncodeDatoms(datoms []Datom) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(1 + 24*len(datoms))
	buf.WriteByte(DatomsVersion)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	if err := enc.EncodeArrayLen(len(datoms)); err != nil {
		return nil, fmt.Errorf("datom: encode datoms: %w", err)
	}
	for i, d := range datoms {
		if err := encodeDatom(enc, d); err != nil {
			return nil, fmt.Errorf("datom: encode datom %d: %w", i, err)
		}
	}
	return buf.Bytes(), nil
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
	r := bytes.NewReader(b[1:])
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	n, err := readArrayLen(dec)
	if err != nil {
		return nil, fmt.Errorf("datom: datoms: %w", err)
	}
	// Each datom takes at least 8 bytes: bound the allocation by the input.
	if n > r.Len()/8+1 {
		return nil, corruptf("datoms: %d datoms in %d bytes", n, r.Len())
	}
	out := make([]Datom, 0, n)
	for i := 0; i < n; i++ {
		d, err := decodeDatom(dec)
		if err != nil {
			return nil, fmt.Errorf("datom: datoms[%d]: %w", i, err)
		}
		out = append(out, d)
	}
	if r.Len() != 0 {
		return nil, corruptf("datoms: %d trailing bytes", r.Len())
	}
	return out, nil
}

func encodeDatom(enc *msgpack.Encoder, d Datom) error {
	k, err := payloadObjects(d.V, false)
	if err != nil {
		return err
	}
	if err := enc.EncodeArrayLen(datomFixedObjects + k); err != nil {
		return err
	}
	if err := encodeSplitID(enc, d.E); err != nil {
		return err
	}
	if err := enc.EncodeInt(d.A); err != nil {
		return err
	}
	if err := encodeValue(enc, d.V); err != nil {
		return err
	}
	if err := encodeSplitID(enc, d.Tx); err != nil {
		return err
	}
	return enc.EncodeBool(d.Added)
}

func encodeSplitID(enc *msgpack.Encoder, id ID) error {
	if err := enc.EncodeInt(id >> PartShift); err != nil {
		return err
	}
	return enc.EncodeInt(id & maxN)
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
			if u, err := url.Parse(x.String()); err != nil || u.String() != x.String() {
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

// encodeValue writes v's tag and payload; v was validated by payloadObjects.
func encodeValue(enc *msgpack.Encoder, v any) error {
	tag := uint64(rank(v))
	if x, ok := v.(int64); ok && isRefForm(x) {
		tag = uint64(TypeRef)
	}
	if err := enc.EncodeUint(tag); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		return enc.EncodeBool(x)
	case int64:
		if tag == uint64(TypeRef) {
			return encodeSplitID(enc, x)
		}
		return enc.EncodeInt(x)
	case *big.Int:
		if err := enc.EncodeBool(x.Sign() < 0); err != nil {
			return err
		}
		return enc.EncodeBytes(new(big.Int).Abs(x).Bytes())
	case float64:
		return enc.EncodeFloat64(x)
	case *apd.Decimal:
		if err := enc.EncodeBool(x.Negative); err != nil {
			return err
		}
		if err := enc.EncodeInt(int64(x.Exponent)); err != nil {
			return err
		}
		return enc.EncodeBytes(x.Coeff.Bytes())
	case time.Time:
		return enc.EncodeInt(x.UnixMilli())
	case uuid.UUID:
		return enc.EncodeBytes(x[:])
	case string:
		return enc.EncodeString(x)
	case edn.Keyword:
		return enc.EncodeString(string(x))
	case edn.Symbol:
		return enc.EncodeString(string(x))
	case *url.URL:
		return enc.EncodeString(x.String())
	case []byte:
		return enc.EncodeBytes(x)
	case edn.Vector, []any:
		t, _ := asTuple(v)
		n := 0
		for _, e := range t {
			k, _ := payloadObjects(e, true)
			n += 1 + k
		}
		if err := enc.EncodeArrayLen(n); err != nil {
			return err
		}
		for _, e := range t {
			if err := encodeValue(enc, e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %T", ErrUnencodable, v) // unreachable after payloadObjects
}

func decodeDatom(dec *msgpack.Decoder) (Datom, error) {
	var d Datom
	n, err := readArrayLen(dec)
	if err != nil {
		return d, err
	}
	if n < datomFixedObjects+1 || n > datomFixedObjects+3 {
		return d, corruptf("datom of %d fields", n)
	}
	if d.E, err = readSplitID(dec); err != nil {
		return d, fmt.Errorf("e: %w", err)
	}
	if d.A, err = readInt(dec); err != nil {
		return d, fmt.Errorf("a: %w", err)
	}
	v, k, err := decodeValue(dec, false)
	if err != nil {
		return d, fmt.Errorf("v: %w", err)
	}
	d.V = v
	if n != datomFixedObjects+k {
		return d, corruptf("datom of %d fields, value has %d", n, k)
	}
	if d.Tx, err = readSplitID(dec); err != nil {
		return d, fmt.Errorf("tx: %w", err)
	}
	if d.Added, err = readBool(dec); err != nil {
		return d, fmt.Errorf("added: %w", err)
	}
	return d, nil
}

// decodeValue reads a tag and its payload, returning the value and the
// number of payload objects read.
func decodeValue(dec *msgpack.Decoder, inTuple bool) (any, int, error) {
	tag, err := readInt(dec)
	if err != nil {
		return nil, 0, err
	}
	switch ValueType(tag) {
	case TypeInvalid:
		if tag == 0 && inTuple {
			return nil, 0, nil
		}
	case TypeBoolean:
		b, err := readBool(dec)
		return b, 1, err
	case TypeLong:
		x, err := readInt(dec)
		if err == nil && isRefForm(x) {
			err = corruptf("long %d must use the ref form", x)
		}
		return x, 1, err
	case TypeRef:
		x, err := readSplitID(dec)
		if err == nil && !isRefForm(x) {
			err = corruptf("ref %d must use the long form", x)
		}
		return x, 2, err
	case TypeBigInt:
		neg, err := readBool(dec)
		if err != nil {
			return nil, 0, err
		}
		mag, err := readMagnitude(dec)
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
		f, err := readFloat64(dec)
		return f, 1, err
	case TypeBigDec:
		neg, err := readBool(dec)
		if err != nil {
			return nil, 0, err
		}
		exp, err := readInt(dec)
		if err != nil {
			return nil, 0, err
		}
		if exp < math.MinInt32 || exp > math.MaxInt32 {
			return nil, 0, corruptf("bigdec exponent %d", exp)
		}
		mag, err := readMagnitude(dec)
		if err != nil {
			return nil, 0, err
		}
		d := &apd.Decimal{Form: apd.Finite, Negative: neg, Exponent: int32(exp)}
		d.Coeff.SetBytes(mag)
		return d, 3, nil
	case TypeInstant:
		ms, err := readInt(dec)
		return time.UnixMilli(ms).UTC(), 1, err
	case TypeUUID:
		b, err := readBin(dec)
		if err != nil {
			return nil, 0, err
		}
		if len(b) != 16 {
			return nil, 0, corruptf("uuid of %d bytes", len(b))
		}
		return uuid.UUID(b), 1, nil
	case TypeString:
		s, err := readStr(dec)
		return s, 1, err
	case TypeKeyword, TypeSymbol:
		s, err := readStr(dec)
		if err != nil {
			return nil, 0, err
		}
		if s == "" {
			return nil, 0, corruptf("empty %s", ValueType(tag))
		}
		if ValueType(tag) == TypeKeyword {
			return edn.Keyword(s), 1, nil
		}
		return edn.Symbol(s), 1, nil
	case TypeURI:
		s, err := readStr(dec)
		if err != nil {
			return nil, 0, err
		}
		u, err := url.Parse(s)
		if err != nil || u.String() != s {
			return nil, 0, corruptf("uri %q is not canonical", s)
		}
		return u, 1, nil
	case TypeBytes:
		b, err := readBin(dec)
		return b, 1, err
	case TypeTuple:
		if inTuple {
			return nil, 0, corruptf("nested tuple")
		}
		m, err := readArrayLen(dec)
		if err != nil {
			return nil, 0, err
		}
		var t edn.Vector
		for read := 0; read < m; {
			if len(t) == MaxTupleLen {
				return nil, 0, corruptf("tuple longer than %d", MaxTupleLen)
			}
			e, k, err := decodeValue(dec, true)
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

func peek(dec *msgpack.Decoder) (byte, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, corruptf("truncated: %v", err)
	}
	return c, nil
}

func wrapRead(err error) error {
	if err != nil {
		return corruptf("%v", err)
	}
	return nil
}

func readInt(dec *msgpack.Decoder) (int64, error) {
	c, err := peek(dec)
	if err != nil {
		return 0, err
	}
	switch {
	case msgpcode.IsFixedNum(c), c >= msgpcode.Uint8 && c <= msgpcode.Uint32, c >= msgpcode.Int8 && c <= msgpcode.Int64:
	case c == msgpcode.Uint64:
		u, err := dec.DecodeUint64()
		if err == nil && u > math.MaxInt64 {
			return 0, corruptf("integer %d out of range", u)
		}
		return int64(u), wrapRead(err)
	default:
		return 0, corruptf("want an integer, got code %#x", c)
	}
	n, err := dec.DecodeInt64()
	return n, wrapRead(err)
}

func readSplitID(dec *msgpack.Decoder) (ID, error) {
	part, err := readInt(dec)
	if err != nil {
		return 0, err
	}
	n, err := readInt(dec)
	if err != nil {
		return 0, err
	}
	if part < minPart || part > maxPart || n < 0 || n > maxN {
		return 0, corruptf("id part %d n %d out of range", part, n)
	}
	return MakeID(part, n), nil
}

func readBool(dec *msgpack.Decoder) (bool, error) {
	c, err := peek(dec)
	if err != nil {
		return false, err
	}
	if c != msgpcode.True && c != msgpcode.False {
		return false, corruptf("want a bool, got code %#x", c)
	}
	b, err := dec.DecodeBool()
	return b, wrapRead(err)
}

func readFloat64(dec *msgpack.Decoder) (float64, error) {
	c, err := peek(dec)
	if err != nil {
		return 0, err
	}
	if c != msgpcode.Double {
		return 0, corruptf("want a float64, got code %#x", c)
	}
	f, err := dec.DecodeFloat64()
	return f, wrapRead(err)
}

func readStr(dec *msgpack.Decoder) (string, error) {
	c, err := peek(dec)
	if err != nil {
		return "", err
	}
	if !msgpcode.IsString(c) {
		return "", corruptf("want a string, got code %#x", c)
	}
	s, err := dec.DecodeString()
	return s, wrapRead(err)
}

func readBin(dec *msgpack.Decoder) ([]byte, error) {
	c, err := peek(dec)
	if err != nil {
		return nil, err
	}
	if !msgpcode.IsBin(c) {
		return nil, corruptf("want bytes, got code %#x", c)
	}
	b, err := dec.DecodeBytes()
	if err != nil {
		return nil, wrapRead(err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// readMagnitude reads a big-endian magnitude without leading zero bytes.
func readMagnitude(dec *msgpack.Decoder) ([]byte, error) {
	b, err := readBin(dec)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && b[0] == 0 {
		return nil, corruptf("magnitude with a leading zero byte")
	}
	return b, nil
}

func readArrayLen(dec *msgpack.Decoder) (int, error) {
	c, err := peek(dec)
	if err != nil {
		return 0, err
	}
	if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
		return 0, corruptf("want an array, got code %#x", c)
	}
	n, err := dec.DecodeArrayLen()
	return n, wrapRead(err)
}
