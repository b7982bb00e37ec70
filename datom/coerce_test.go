package datom

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

func TestCoerce(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	u := uuid.MustParse("5f1c0c1e-6a4b-4c1e-9b3e-0c1e6a4b4c1e")
	link, _ := url.Parse("https://example.org/x")
	valid := []struct {
		vt       ValueType
		in, want any
	}{
		{TypeBoolean, true, true},
		{TypeLong, int64(-3), int64(-3)},
		{TypeLong, 7, int64(7)},
		{TypeLong, uint8(7), int64(7)},
		{TypeLong, big.NewInt(9), int64(9)},
		{TypeRef, MakeID(PartUser, 1), MakeID(PartUser, 1)},
		{TypeBigInt, int64(5), big.NewInt(5)},
		{TypeBigInt, big.NewInt(-5), big.NewInt(-5)},
		{TypeBigInt, uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{TypeDouble, 1.5, 1.5},
		{TypeDouble, float32(0.5), 0.5},
		{TypeBigDec, apd.New(15, -1), apd.New(15, -1)},
		{TypeInstant, time.Date(2024, 1, 2, 3, 4, 5, 6_789_123, berlin), time.Date(2024, 1, 2, 2, 4, 5, 6_000_000, time.UTC)},
		{TypeInstant, time.Unix(-1, 999_999_999), time.Unix(-1, 999_000_000).UTC()},
		{TypeUUID, u, u},
		{TypeUUID, [16]byte(u), u},
		{TypeString, "héllo", "héllo"},
		{TypeKeyword, edn.Keyword("a/b"), edn.Keyword("a/b")},
		{TypeSymbol, edn.Symbol("s"), edn.Symbol("s")},
		{TypeURI, link, link},
		{TypeBytes, []byte{1, 2}, []byte{1, 2}},
		{TypeTuple, edn.Vector{1, "a", nil}, edn.Vector{int64(1), "a", nil}},
		{TypeTuple, []any{edn.Keyword("k"), 2.5}, edn.Vector{edn.Keyword("k"), 2.5}},
		{TypeInvalid, 42, int64(42)}, // schema-on-read: typed by the value
		{TypeInvalid, time.Unix(0, 1500000), time.UnixMilli(1).UTC()},
	}
	for _, tc := range valid {
		got, err := Coerce(tc.vt, tc.in)
		if err != nil {
			t.Errorf("Coerce(%s, %#v) error: %v", tc.vt, tc.in, err)
			continue
		}
		if !EqualValues(got, tc.want) || rank(got) != rank(tc.want) {
			t.Errorf("Coerce(%s, %#v) = %#v, want %#v", tc.vt, tc.in, got, tc.want)
		}
		if tm, ok := got.(time.Time); ok && tm.Location() != time.UTC {
			t.Errorf("Coerce(%s, %v) location = %v, want UTC", tc.vt, tc.in, tm.Location())
		}
	}

	invalid := []struct {
		vt      ValueType
		in      any
		wantMsg string
	}{
		{TypeBoolean, "true", "want boolean, got string"},
		{TypeLong, 1.0, "want long, got float64"},
		{TypeLong, uint64(math.MaxUint64), "want long, got uint64"},
		{TypeLong, new(big.Int).Lsh(big.NewInt(1), 70), "out of int64 range"},
		{TypeRef, edn.Keyword("a/b"), "want ref, got edn.Keyword"},
		{TypeDouble, int64(1), "want double, got int64"},
		{TypeBigDec, int64(1), "want bigdec, got int64"},
		{TypeBigDec, &apd.Decimal{Form: apd.NaN}, "not finite"},
		{TypeInstant, "2024-01-01", "want instant, got string"},
		{TypeUUID, u.String(), "want uuid, got string"},
		{TypeString, edn.Keyword("a"), "want string, got edn.Keyword"},
		{TypeKeyword, "a/b", "want keyword, got string"},
		{TypeKeyword, edn.Keyword(""), "empty keyword"},
		{TypeSymbol, edn.Keyword("s"), "want symbol"},
		{TypeURI, (*url.URL)(nil), "nil *url.URL"},
		{TypeURI, "https://x", "want uri, got string"},
		{TypeBytes, "abc", "want bytes, got string"},
		{TypeTuple, edn.Vector{1}, "outside 2..8"},
		{TypeTuple, edn.Vector{1, 2, 3, 4, 5, 6, 7, 8, 9}, "outside 2..8"},
		{TypeTuple, edn.Vector{1, edn.Vector{1, 2}}, "nested tuple"},
		{TypeTuple, edn.Vector{1, struct{}{}}, "element 1"},
		{TypeTuple, "x", "want tuple, got string"},
		{TypeLong, nil, "nil is not a value"},
		{TypeInvalid, struct{}{}, "not a value of any value type"},
	}
	for _, tc := range invalid {
		got, err := Coerce(tc.vt, tc.in)
		var te *TypeError
		if err == nil || !errors.Is(err, ErrValueType) || !errors.As(err, &te) || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("Coerce(%s, %#v) = %#v, %v; want *TypeError containing %q", tc.vt, tc.in, got, err, tc.wantMsg)
		}
	}

	// Tuple types.
	if got, err := CoerceTuple([]ValueType{TypeLong, TypeString}, edn.Vector{3, "x"}); err != nil || !EqualValues(got, edn.Vector{int64(3), "x"}) {
		t.Errorf("CoerceTuple = %#v, %v", got, err)
	}
	for _, in := range []any{edn.Vector{"x", "y"}, edn.Vector{3, "x", 4}} {
		if _, err := CoerceTuple([]ValueType{TypeLong, TypeString}, in); !errors.Is(err, ErrValueType) {
			t.Errorf("CoerceTuple(long string, %#v) error = %v, want ErrValueType", in, err)
		}
	}
	a := &Attribute{ValueType: TypeTuple, TupleTypes: []ValueType{TypeDouble, TypeDouble}}
	if _, err := a.Coerce(edn.Vector{1, 2}); !errors.Is(err, ErrValueType) {
		t.Errorf("Attribute.Coerce(doubles, [1 2]) error = %v, want ErrValueType (integers are not doubles)", err)
	}
	// Bytes are copied.
	in := []byte{1}
	out, _ := Coerce(TypeBytes, in)
	in[0] = 9
	if out.([]byte)[0] != 1 {
		t.Errorf("Coerce(bytes) aliases its input")
	}
}

func TestCoerceJSON(t *testing.T) {
	var decoded []any
	dec := json.NewDecoder(strings.NewReader(`[12, 12345678901234567890, 1.5, "2024-05-06T07:08:09.123456Z"]`))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		t.Fatal(err)
	}
	big20, _ := new(big.Int).SetString("12345678901234567890", 10)
	valid := []struct {
		vt       ValueType
		in, want any
	}{
		{TypeLong, 12.0, int64(12)},
		{TypeLong, decoded[0], int64(12)},
		{TypeRef, float64(MakeID(PartUser, 3)), MakeID(PartUser, 3)},
		{TypeBigInt, decoded[1], big20},
		{TypeBigInt, "-7", big.NewInt(-7)},
		{TypeDouble, 3.0, 3.0},
		{TypeDouble, decoded[0], 12.0},
		{TypeBigDec, decoded[2], apd.New(15, -1)},
		{TypeBigDec, "1.50", apd.New(150, -2)},
		{TypeInstant, decoded[3], time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)},
		{TypeInstant, 1000.0, time.UnixMilli(1000).UTC()},
		{TypeUUID, "5f1c0c1e-6a4b-4c1e-9b3e-0c1e6a4b4c1e", uuid.MustParse("5f1c0c1e-6a4b-4c1e-9b3e-0c1e6a4b4c1e")},
		{TypeKeyword, ":a/b", edn.Keyword("a/b")},
		{TypeKeyword, "a/b", edn.Keyword("a/b")},
		{TypeSymbol, "x", edn.Symbol("x")},
		{TypeBytes, "AQI=", []byte{1, 2}},
		{TypeString, "s", "s"},
		{TypeBoolean, false, false},
	}
	for _, tc := range valid {
		got, err := CoerceJSON(tc.vt, nil, tc.in)
		if err != nil || !EqualValues(got, tc.want) {
			t.Errorf("CoerceJSON(%s, %#v) = %#v, %v; want %#v", tc.vt, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want any }{{2.0, int64(2)}, {2.5, 2.5}, {decoded[0], int64(12)}, {decoded[2], 1.5}, {"s", "s"}, {true, true}} {
		if got, err := CoerceJSON(TypeInvalid, nil, tc.in); err != nil || !EqualValues(got, tc.want) {
			t.Errorf("CoerceJSON(untyped, %#v) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	if got, err := CoerceJSON(TypeTuple, nil, []any{1.0, 0.5}); err != nil || !EqualValues(got, edn.Vector{int64(1), 0.5}) {
		t.Errorf("CoerceJSON(untyped tuple) = %#v, %v", got, err)
	}
	if got, err := CoerceJSON(TypeTuple, []ValueType{TypeLong, TypeKeyword}, []any{1.0, ":k"}); err != nil || !EqualValues(got, edn.Vector{int64(1), edn.Keyword("k")}) {
		t.Errorf("CoerceJSON(tuple) = %#v, %v", got, err)
	}
	for _, tc := range []struct {
		vt ValueType
		in any
	}{
		{TypeLong, 1.5}, {TypeLong, 1e300}, {TypeLong, decoded[1]}, {TypeInstant, "yesterday"},
		{TypeUUID, "nope"}, {TypeBytes, "!!"}, {TypeBigDec, "NaN"}, {TypeKeyword, ":"}, {TypeDouble, "1.5"},
	} {
		if got, err := CoerceJSON(tc.vt, nil, tc.in); !errors.Is(err, ErrValueType) {
			t.Errorf("CoerceJSON(%s, %#v) = %#v, %v; want ErrValueType", tc.vt, tc.in, got, err)
		}
	}
}

// TestCoerceKeepsBoxes: a value already of its attribute's type, in its
// normal form, comes back as the same box, without an allocation; one
// that needs normalizing (an instant with a monotonic reading) does not.
func TestCoerceKeepsBoxes(t *testing.T) {
	u := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	for _, c := range []struct {
		vt ValueType
		v  any
	}{
		{TypeLong, any(int64(1 << 40))},
		{TypeRef, any(int64(1 << 43))},
		{TypeDouble, any(2.5e9)},
		{TypeUUID, any(u)},
		{TypeSymbol, any(edn.Symbol("a/b"))},
		{TypeInstant, any(time.UnixMilli(1_700_000_000_123).UTC())},
		{TypeInvalid, any(int64(1 << 40))}, // schema-on-read: typed by the value
	} {
		var out any
		allocs := testing.AllocsPerRun(100, func() {
			out, _ = coerce(c.vt, nil, c.v, false)
		})
		if allocs != 0 {
			t.Errorf("%v %v: %.0f allocations, want none", c.vt, c.v, allocs)
		}
		if out != c.v {
			t.Errorf("%v %v: got %v", c.vt, c.v, out)
		}
	}
	now := time.Now() // carries a monotonic reading
	out, err := coerce(TypeInstant, nil, any(now), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(time.Time); got != NormalizeInstant(now) || got == now {
		t.Errorf("instant %v coerced to %v, want %v", now, got, NormalizeInstant(now))
	}
}
