package datom

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/big"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/node"
	"github.com/cockroachdb/apd/v3"
	"github.com/vmihailenco/msgpack/v5"
)

var _ node.KeyCodec[Datom] = Codec(EAVT)

// datomEqual compares datoms field by field, V with EqualValues and, for
// doubles, by bits so that NaN payloads and -0 are checked exactly.
func datomEqual(a, b Datom) bool {
	if fa, ok := a.V.(float64); ok {
		fb, ok := b.V.(float64)
		return ok && math.Float64bits(fa) == math.Float64bits(fb) && a.E == b.E && a.A == b.A && a.Tx == b.Tx && a.Added == b.Added
	}
	return a.E == b.E && a.A == b.A && EqualValues(a.V, b.V) && a.Tx == b.Tx && a.Added == b.Added
}

func encodeOne(t testing.TB, d Datom) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := Codec(EAVT).EncodeKey(enc, d); err != nil {
		t.Fatalf("EncodeKey(%+v): %v", d, err)
	}
	return buf.Bytes()
}

func decodeOne(b []byte) (Datom, error) {
	r := bytes.NewReader(b)
	d, err := Codec(EAVT).DecodeKey(msgpack.NewDecoder(r))
	if err == nil && r.Len() != 0 {
		err = errors.New("trailing bytes")
	}
	return d, err
}

func TestCodecRoundTrip(t *testing.T) {
	r := newRand(t)
	var all []Datom
	for _, vt := range allTypes {
		for i := 0; i < 300; i++ {
			d := randDatom(r)
			d.V = randScalar(r, vt)
			d.E = []ID{d.E, MakeID(maxPart, maxN), MakeID(minPart, 0), -1, 0}[r.IntN(5)]
			all = append(all, d)
			b := encodeOne(t, d)
			got, err := decodeOne(b)
			if err != nil {
				t.Fatalf("decode(encode(%+v)) = %v (bytes %x)", d, err, b)
			}
			if !datomEqual(got, d) {
				t.Fatalf("round trip: got %+v, want %+v", got, d)
			}
			if b2 := encodeOne(t, got); !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding differs: %x vs %x", b, b2)
			}
		}
	}
	b, err := EncodeDatoms(all)
	if err != nil {
		t.Fatalf("EncodeDatoms: %v", err)
	}
	got, err := DecodeDatoms(b)
	if err != nil || len(got) != len(all) {
		t.Fatalf("DecodeDatoms = %d datoms, %v; want %d", len(got), err, len(all))
	}
	for i := range all {
		if !datomEqual(got[i], all[i]) {
			t.Fatalf("datom %d: got %+v, want %+v", i, got[i], all[i])
		}
	}
	if empty, err := EncodeDatoms(nil); err != nil || !bytes.Equal(empty, []byte{DatomsVersion, 0x90}) {
		t.Errorf("EncodeDatoms(nil) = %x, %v; want 0190", empty, err)
	}
}

// TestCodecGolden pins the format: these bytes must never change.
func TestCodecGolden(t *testing.T) {
	tests := []struct {
		d    Datom
		want string
	}{
		{Datom{E: MakeID(PartUser, 5), A: 100, V: "hi", Tx: TxID(3), Added: true},
			"98" + "02" + "05" + "64" + "08" + "a26869" + "01" + "03" + "c3"},
		{Datom{E: MakeID(PartUser, 5), A: 101, V: MakeID(PartUser, 300), Tx: TxID(3), Added: false},
			"99" + "02" + "05" + "65" + "0d" + "02" + "cd012c" + "01" + "03" + "c2"},
		{Datom{E: 1, A: DBIdent, V: edn.Keyword("db/ident"), Tx: TxID(0), Added: true},
			"98" + "00" + "01" + "01" + "09" + "a8" + hex.EncodeToString([]byte("db/ident")) + "01" + "00" + "c3"},
		{Datom{E: 1, A: 2, V: edn.Vector{int64(-1), nil}, Tx: TxID(0), Added: true},
			"98" + "00" + "01" + "02" + "0e" + "93" + "02" + "ff" + "00" + "01" + "00" + "c3"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(encodeOne(t, tc.d)); got != tc.want {
			t.Errorf("encode(%+v) = %s, want %s", tc.d, got, tc.want)
		}
	}
	for idx, want := range map[Index]string{EAVT: "accrete.datom.eavt.v1", AEVT: "accrete.datom.aevt.v1",
		AVET: "accrete.datom.avet.v1", VAET: "accrete.datom.vaet.v1", TEAV: "accrete.datom.teav.v1"} {
		if got := Codec(idx).ID(); got != want {
			t.Errorf("Codec(%s).ID() = %q, want %q", idx, got, want)
		}
	}
}

func TestCodecUnencodable(t *testing.T) {
	for _, v := range []any{
		nil, 3, float32(1), edn.Keyword(""), (*big.Int)(nil), (*url.URL)(nil),
		time.UnixMilli(5).Add(time.Microsecond),
		&apd.Decimal{Form: apd.Infinite},
		edn.Vector{int64(1)}, edn.Vector{int64(1), edn.Vector{int64(1), int64(2)}},
		edn.Vector{1, 2, 3, 4, 5, 6, 7, 8, 9},
	} {
		var buf bytes.Buffer
		err := Codec(EAVT).EncodeKey(msgpack.NewEncoder(&buf), Datom{E: 1, A: 1, V: v})
		if !errors.Is(err, ErrUnencodable) {
			t.Errorf("EncodeKey(V=%#v) error = %v, want ErrUnencodable", v, err)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := encodeOne(t, Datom{E: MakeID(PartUser, 5), A: 100, V: "hi", Tx: TxID(3), Added: true})
	for _, b := range [][]byte{
		nil,
		good[:len(good)-1],
		mustHex("98 02 05 64 08 a26869 01 03 c0"),             // added is nil
		mustHex("99 02 05 64 08 a26869 01 03 c3"),             // field count mismatch
		mustHex("98 02 05 64 0f a26869 01 03 c3"),             // unknown tag
		mustHex("98 02 05 64 0d a26869 01 03 c3"),             // ref tag with a string
		mustHex("99 00 05 64 0d 02 cd012c 01 03 c3")[1:],      // shifted
		mustHex("98 02 05 64 02 cf0000040000000001 01 03 c3"), // long in ref range
		mustHex("99 02 05 64 0d 00 05 01 03 c3"),              // ref in partition 0
		mustHex("99 02 05 64 03 c2 c4020001 01 03 c3"),        // bigint leading zero
		mustHex("99 02 05 64 03 c3 c400 01 03 c3"),            // negative zero bigint
		mustHex("98 02 05 64 07 c40101 01 03 c3"),             // short uuid
		mustHex("98 02 05 64 09 a0 01 03 c3"),                 // empty keyword
		mustHex("98 02 05 64 0b a3612062 01 03 c3"),           // uri "a b" not canonical
		mustHex("98 02 05 64 0e 92 02 01 01 03 c3"),           // one-element tuple
		mustHex("98 02 05 64 0e 94 0e 90 02 01 01 03 c3"),     // nested tuple
		mustHex("98 02 05 64 04 ca3f800000 01 03 c3"),         // float32
		mustHex("98 ce00400000 05 64 08 a26869 01 03 c3"),     // partition out of range
	} {
		if d, err := decodeOne(b); err == nil {
			t.Errorf("decode(%x) = %+v, nil; want an error", b, d)
		} else if len(b) > 0 && !errors.Is(err, ErrCorrupt) && err.Error() != "trailing bytes" {
			t.Errorf("decode(%x) error = %v, want ErrCorrupt", b, err)
		}
	}
	for _, b := range [][]byte{nil, {2, 0x90}, {1}, {1, 0x91}, {1, 0x90, 0}, {1, 0xdd, 0xff, 0xff, 0xff, 0xff}} {
		if ds, err := DecodeDatoms(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeDatoms(%x) = %v, %v; want ErrCorrupt", b, ds, err)
		}
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)))
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzDecodeDatom(f *testing.F) {
	r := newRand(f)
	for _, vt := range allTypes {
		d := randDatom(r)
		d.V = randScalar(r, vt)
		f.Add(encodeOne(f, d))
	}
	f.Add(mustHex("98 02 05 64 0e 94 0e 90 02 01 01 03 c3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeOne(b)
		if err != nil {
			return
		}
		b2 := encodeOne(t, d)
		d2, err := decodeOne(b2)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", b2, err)
		}
		if !datomEqual(d, d2) {
			t.Fatalf("round trip: %+v != %+v", d, d2)
		}
	})
}

func FuzzDecodeDatoms(f *testing.F) {
	r := newRand(f)
	var ds []Datom
	for range 20 {
		ds = append(ds, randDatom(r))
	}
	for _, n := range []int{0, 1, 20} {
		b, err := EncodeDatoms(ds[:n])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := DecodeDatoms(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeDatoms error %v does not match ErrCorrupt", err)
			}
			return
		}
		b2, err := EncodeDatoms(ds)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		ds2, err := DecodeDatoms(b2)
		if err != nil || len(ds2) != len(ds) {
			t.Fatalf("re-decode: %d datoms, %v; want %d", len(ds2), err, len(ds))
		}
		for i := range ds {
			if !datomEqual(ds[i], ds2[i]) {
				t.Fatalf("datom %d: %+v != %+v", i, ds[i], ds2[i])
			}
		}
	})
}

// onlyReader hides every method but Read, forcing msgpack's own buffering
// and DecodeKey's DecodeRaw path.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestDecodeKeySequence decodes many datoms in a row from one decoder, over
// a *bytes.Reader (in-place path, with datoms larger than its window) and
// over a plain io.Reader (DecodeRaw path).
func TestDecodeKeySequence(t *testing.T) {
	r := newRand(t)
	var ds []Datom
	for i := 0; i < 500; i++ {
		d := randDatom(r)
		if i%7 == 0 {
			d.V = strings.Repeat("x", r.IntN(400))
		}
		ds = append(ds, d)
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	for _, d := range ds {
		if err := Codec(AVET).EncodeKey(enc, d); err != nil {
			t.Fatal(err)
		}
	}
	enc.EncodeInt(7) // a trailing value the caller reads itself
	for name, rd := range map[string]io.Reader{"bytes.Reader": bytes.NewReader(buf.Bytes()), "io.Reader": onlyReader{bytes.NewReader(buf.Bytes())}} {
		dec := msgpack.NewDecoder(rd)
		for i, want := range ds {
			got, err := Codec(AVET).DecodeKey(dec)
			if err != nil || !datomEqual(got, want) {
				t.Fatalf("%s: datom %d = %+v, %v; want %+v", name, i, got, err, want)
			}
		}
		if n, err := dec.DecodeInt64(); err != nil || n != 7 {
			t.Fatalf("%s: trailing value = %d, %v; want 7", name, n, err)
		}
		if _, err := Codec(AVET).DecodeKey(dec); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: DecodeKey at end of input: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestDecodeKeyLarge decodes datoms longer than the stack window (values
// of up to 200 KB, several window doublings) in sequence from one
// bytes.Reader, and every truncation of the stream as ErrCorrupt.
func TestDecodeKeyLarge(t *testing.T) {
	var ds []Datom
	for i, n := range []int{0, 100, 127, 128, 129, 4000, 4095, 4096, 9000, 200000, 3} {
		ds = append(ds, Datom{E: MakeID(PartUser, int64(i+1)), A: 10 + ID(i), V: strings.Repeat("v", n), Tx: MakeID(PartTx, 1), Added: true})
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	for _, d := range ds {
		if err := Codec(EAVT).EncodeKey(enc, d); err != nil {
			t.Fatal(err)
		}
	}
	dec := msgpack.NewDecoder(bytes.NewReader(buf.Bytes()))
	for i, want := range ds {
		got, err := Codec(EAVT).DecodeKey(dec)
		if err != nil || !datomEqual(got, want) {
			t.Fatalf("datom %d (%d-byte value): %v, err %v", i, len(want.V.(string)), got.E, err)
		}
	}
	// The 200,000-byte datom, cut anywhere, is corrupt, never a panic.
	var one bytes.Buffer
	if err := Codec(EAVT).EncodeKey(msgpack.NewEncoder(&one), ds[9]); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 50, 127, 128, 129, 4096, 100000, one.Len() - 1} {
		_, err := Codec(EAVT).DecodeKey(msgpack.NewDecoder(bytes.NewReader(one.Bytes()[:cut])))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d of %d: err = %v, want ErrCorrupt", cut, one.Len(), err)
		}
	}
}

// TestDecodeKeyHostileLength: a datom whose string claims 2 GB decodes as
// ErrCorrupt without allocating by the claim, however often one decoder
// (node pools them) meets it. Through msgpack's DecodeRaw each such call
// grew the decoder's reused buffer by a megabyte.
func TestDecodeKeyHostileLength(t *testing.T) {
	b, err := AppendDatom(nil, Datom{E: MakeID(PartUser, 1), A: 10, V: strings.Repeat("y", 300), Tx: MakeID(PartTx, 1), Added: true})
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte{0xda, 0x01, 0x2c}) // str16 of 300 bytes
	if i < 0 {
		t.Fatalf("no str16 header in %x", b)
	}
	bad := slices.Concat(b[:i], []byte{0xdb, 0x7f, 0xff, 0xff, 0xff}, b[i+3:])
	var r bytes.Reader
	dec := msgpack.NewDecoder(&r)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 100 {
		r.Reset(bad)
		dec.Reset(&r)
		if _, err := Codec(EAVT).DecodeKey(dec); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	}
	runtime.ReadMemStats(&m1)
	if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 1<<20 {
		t.Fatalf("100 decodes of a datom claiming 2 GB allocated %d bytes, want under 1 MiB", grew)
	}
}

// plainWriter hides a bytes.Buffer behind a plain io.Writer, so that
// EncodeKey takes its path for writers other than a bytes.Buffer.
type plainWriter struct{ b *bytes.Buffer }

func (w plainWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// TestEncodeKeyWriters checks that EncodeKey writes the same bytes whether
// it appends to a bytes.Buffer's spare capacity (as node does) or goes
// through a scratch buffer to another writer, after earlier bytes and
// across the buffer's growth, and that a datom it cannot encode leaves
// either writer as it was.
func TestEncodeKeyWriters(t *testing.T) {
	r := newRand(t)
	var direct, plain bytes.Buffer
	direct.WriteString("prefix")
	plain.WriteString("prefix")
	de, pe := msgpack.NewEncoder(&direct), msgpack.NewEncoder(plainWriter{&plain})
	for _, vt := range allTypes {
		for i := 0; i < 50; i++ {
			d := randDatom(r)
			d.V = randScalar(r, vt)
			if err := Codec(EAVT).EncodeKey(de, d); err != nil {
				t.Fatalf("EncodeKey(%+v) to a bytes.Buffer: %v", d, err)
			}
			if err := Codec(EAVT).EncodeKey(pe, d); err != nil {
				t.Fatalf("EncodeKey(%+v) to a plain writer: %v", d, err)
			}
			if !bytes.Equal(direct.Bytes(), plain.Bytes()) {
				t.Fatalf("after %+v: a bytes.Buffer holds %x, a plain writer %x", d, direct.Bytes(), plain.Bytes())
			}
		}
	}
	n := direct.Len()
	for _, enc := range []*msgpack.Encoder{de, pe} {
		if err := Codec(EAVT).EncodeKey(enc, Datom{E: 1, A: 1, V: struct{}{}}); !errors.Is(err, ErrUnencodable) {
			t.Errorf("EncodeKey of an unencodable value: %v, want ErrUnencodable", err)
		}
	}
	if direct.Len() != n || plain.Len() != n {
		t.Errorf("a failed EncodeKey wrote: %d and %d bytes, want %d", direct.Len(), plain.Len(), n)
	}
	// What was encoded decodes back, datom by datom.
	rd := bytes.NewReader(direct.Bytes()[len("prefix"):])
	dec := msgpack.NewDecoder(rd)
	for k := 0; rd.Len() > 0; k++ {
		if _, err := Codec(EAVT).DecodeKey(dec); err != nil {
			t.Fatalf("decode datom %d: %v", k, err)
		}
	}
}
