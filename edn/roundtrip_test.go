package edn

import (
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

var (
	seedFlag   = flag.Uint64("edn.seed", 0, "seed for random round-trip tests (0: from the clock)")
	rtCount    = flag.Int("edn.count", 3000, "number of random values in the round-trip test")
	symbolRune = []rune("abcxyzABZ0189.*+!-_?$%&=<>:#/é日")
)

func testSeed(t *testing.T) uint64 {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -edn.seed=%d)", seed, seed)
	return seed
}

// gen makes random EDN values of every type.
type gen struct {
	r *rand.Rand
}

func (g gen) value(depth int) any {
	n := 24
	if depth > 3 {
		n = 19 // scalars only
	}
	switch g.r.IntN(n) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		edges := []int64{0, 1, -1, math.MaxInt64, math.MinInt64}
		if g.r.IntN(3) == 0 {
			return edges[g.r.IntN(len(edges))]
		}
		return g.r.Int64() >> g.r.IntN(64)
	case 3:
		n := new(big.Int).Lsh(big.NewInt(g.r.Int64()), uint(g.r.IntN(200)))
		if g.r.IntN(2) == 0 {
			n.Neg(n)
		}
		return n
	case 4:
		switch g.r.IntN(6) {
		case 0:
			return math.Inf(1 - 2*g.r.IntN(2))
		case 1:
			return math.NaN()
		case 2:
			return math.Float64frombits(g.r.Uint64())
		}
		return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.r.IntN(40)-20))
	case 5:
		d := apd.New(g.r.Int64()>>g.r.IntN(64), int32(g.r.IntN(60)-30))
		if g.r.IntN(4) == 0 {
			d.Coeff.Mul(&d.Coeff, apd.NewBigInt(g.r.Int64()))
		}
		return d
	case 6, 7:
		return g.str()
	case 8, 9:
		return Keyword(g.symbol(true))
	case 10, 11:
		return Symbol(g.symbol(false))
	case 12:
		for {
			r := rune(g.r.IntN(0x30000))
			if g.r.IntN(2) == 0 {
				r = rune(g.r.IntN(0x80))
			}
			if !utf16IsSurrogate(r) {
				return Char(r)
			}
		}
	case 13:
		sec := g.r.Int64N(253402300800) - 62135596800 // years 0001-9999
		ns := []int64{0, g.r.Int64N(1000) * 1e6, g.r.Int64N(1e9)}[g.r.IntN(3)]
		zones := []*time.Location{time.UTC, time.FixedZone("", 3600*g.r.IntN(24)-43200)}
		return time.Unix(sec, ns).In(zones[g.r.IntN(2)])
	case 14:
		var u uuid.UUID
		for i := range u {
			u[i] = byte(g.r.Uint32())
		}
		return u
	case 15:
		us := []string{"http://example.com", "https://a.b/c?d=e&f=g#h", "urn:isbn:0451450523", "file:///tmp/x%20y", "s3://bucket/prefix?region=eu-west-1", "mailto:a@b.c"}
		u, _ := url.Parse(us[g.r.IntN(len(us))])
		return u
	case 16:
		b := make([]byte, g.r.IntN(40))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return b
	case 17:
		res := []string{`a\d+`, `^[a-z]+@[a-z]+\.com$`, `say "hi"`, `\\`, `(?i)x|y`, `日本.`, ``}
		return regexp.MustCompile(res[g.r.IntN(len(res))])
	case 18:
		return int64(g.r.IntN(100))
	case 19:
		return List(g.items(depth))
	case 20:
		return Vector(g.items(depth))
	case 21:
		items := g.items(depth)
		var set Set
		for _, it := range items {
			if indexOf(set, it, true) < 0 && !hasNaN(it) {
				set = append(set, it)
			}
		}
		return set
	case 22:
		var m Map
		for _, k := range g.items(depth) {
			if hasNaN(k) {
				continue
			}
			if _, ok := m.Get(k); !ok {
				m = append(m, MapEntry{Key: k, Val: g.value(depth + 1)})
			}
		}
		return m
	default:
		tags := []Symbol{"my/tag", "point", "db/id", "x.y/z-1"}
		return Tagged{Tag: tags[g.r.IntN(len(tags))], Value: g.value(depth + 1)}
	}
}

// hasNaN reports whether v holds a NaN, which would make it unequal to
// itself (and so unusable as a set element or map key in a round trip).
func hasNaN(v any) bool {
	return !Equal(v, v)
}

func (g gen) items(depth int) []any {
	n := g.r.IntN(6)
	if g.r.IntN(10) == 0 {
		n = g.r.IntN(30)
	}
	out := make([]any, n)
	for i := range out {
		out[i] = g.value(depth + 1)
	}
	return out
}

func (g gen) str() string {
	var b strings.Builder
	n := g.r.IntN(20)
	for range n {
		switch g.r.IntN(6) {
		case 0:
			b.WriteRune(rune(g.r.IntN(0x20)))
		case 1:
			b.WriteByte(`"\;,#{}()[] `[g.r.IntN(12)])
		case 2:
			r := rune(g.r.IntN(0x10FFFF))
			if utf16IsSurrogate(r) {
				r = 'é'
			}
			b.WriteRune(r)
		default:
			b.WriteByte(byte('a' + g.r.IntN(26)))
		}
	}
	return b.String()
}

func (g gen) symbol(keyword bool) string {
	for {
		var b strings.Builder
		n := 1 + g.r.IntN(8)
		for range n {
			b.WriteRune(symbolRune[g.r.IntN(len(symbolRune))])
		}
		if s := b.String(); validSymbol(s, keyword) {
			return s
		}
	}
}

// TestRoundTripRandom: random values → Marshal → Read is equal to the value,
// and printing again gives the same text (which also catches a list read
// back as a vector, since Equal does not tell those apart).
func TestRoundTripRandom(t *testing.T) {
	seed := testSeed(t)
	g := gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	seen := map[string]int{}
	for i := range *rtCount {
		v := g.value(0)
		countTypes(v, seen)
		text, err := Marshal(v)
		if err != nil {
			t.Fatalf("seed %d, value %d: Marshal(%#v): %v", seed, i, v, err)
		}
		back, err := Read(text)
		if err != nil {
			t.Fatalf("seed %d, value %d: Read(%s): %v", seed, i, text, err)
		}
		if !equal(back, v, true) {
			t.Fatalf("seed %d, value %d: Read(Marshal(v)) not equal:\n text %s\n back %s", seed, i, text, String(back))
		}
		again, err := Marshal(back)
		if err != nil || string(again) != string(text) {
			t.Fatalf("seed %d, value %d: printing the read value differs:\n first  %s\n second %s (%v)", seed, i, text, again, err)
		}
		if !equal(v, v, true) || hashOf(v) != hashOf(back) && !hasNaN(v) {
			t.Fatalf("seed %d, value %d: hash differs for equal values %s", seed, i, text)
		}
	}

	// The generator must have produced every type, or the test proves less
	// than it claims.
	for _, want := range []string{"nil", "bool", "int64", "*big.Int", "float64", "*apd.Decimal", "string",
		"Keyword", "Symbol", "Char", "time.Time", "uuid.UUID", "*url.URL", "[]uint8", "*regexp.Regexp",
		"List", "Vector", "Set", "Map", "Tagged"} {
		if seen[want] == 0 {
			t.Errorf("the generator produced no %s in %d values", want, *rtCount)
		}
	}
}

// countTypes counts the types of v and everything inside it.
func countTypes(v any, seen map[string]int) {
	seen[typeName(v)]++
	switch x := v.(type) {
	case List:
		for _, e := range x {
			countTypes(e, seen)
		}
	case Vector:
		for _, e := range x {
			countTypes(e, seen)
		}
	case Set:
		for _, e := range x {
			countTypes(e, seen)
		}
	case Map:
		for _, e := range x {
			countTypes(e.Key, seen)
			countTypes(e.Val, seen)
		}
	case Tagged:
		countTypes(x.Value, seen)
	}
}

// TestConcurrentUse: the package functions share no mutable state (run
// with -race to check).
func TestConcurrentUse(t *testing.T) {
	data := benchTx(64 << 10)
	want, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			v, err := Read(data)
			if err != nil {
				errs <- err
				return
			}
			text, err := Marshal(v)
			if err != nil {
				errs <- err
				return
			}
			back, err := Read(text)
			if err != nil {
				errs <- err
				return
			}
			if !Equal(back, want) {
				errs <- fmt.Errorf("concurrent round trip differs")
				return
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
