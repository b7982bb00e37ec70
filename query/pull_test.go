package query

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

var pullPeopleAttrs = []pullTestAttr{
	{ident: "name", vt: datom.TypeString, unique: datom.UniqueIdentity},
	{ident: "aka", vt: datom.TypeString, many: true},
	{ident: "age", vt: datom.TypeLong},
	{ident: "child", vt: datom.TypeRef, many: true},
	{ident: "friend", vt: datom.TypeRef, many: true},
	{ident: "father", vt: datom.TypeRef},
	{ident: "part", vt: datom.TypeRef, many: true, component: true},
	{ident: "spec", vt: datom.TypeRef, component: true},
	{ident: "gender", vt: datom.TypeRef},
	{ident: "email", vt: datom.TypeString, unique: datom.UniqueValue},
	{ident: "odd/_x", vt: datom.TypeString}, // named like a reverse ref
}

// pullPeopleSource is DataScript's pull_api test data (entity n of DataScript
// is 1000+n here, clear of the built-in schema ids), extended with an age,
// friends (a cycle 1001 -> 1002 -> 1003 -> 1001), enum genders (200, 201)
// and a unique email.
func pullPeopleSource() *pullSource {
	facts := [][3]any{
		{1001, pkw("name"), "Petr"}, {1001, pkw("aka"), "Devil"}, {1001, pkw("aka"), "Tupen"}, {1001, pkw("age"), 44},
		{1001, pkw("child"), 1002}, {1001, pkw("child"), 1003}, {1001, pkw("friend"), 1002}, {1001, pkw("gender"), 200}, {1001, pkw("email"), "petr@x"},
		{1002, pkw("name"), "David"}, {1002, pkw("father"), 1001}, {1002, pkw("age"), 20}, {1002, pkw("friend"), 1003},
		{1003, pkw("name"), "Thomas"}, {1003, pkw("father"), 1001}, {1003, pkw("friend"), 1001},
		{1004, pkw("name"), "Lucy"}, {1004, pkw("odd/_x"), "weird"}, {1004, pkw("gender"), 201},
		{1006, pkw("name"), "Matthew"}, {1006, pkw("father"), 1003},
		{1010, pkw("name"), "Part A"}, {1010, pkw("part"), 1011}, {1010, pkw("part"), 1015},
		{1011, pkw("name"), "Part A.A"}, {1011, pkw("part"), 1012},
		{1012, pkw("name"), "Part A.A.A"}, {1012, pkw("part"), 1013}, {1012, pkw("part"), 1014},
		{1013, pkw("name"), "Part A.A.A.A"}, {1014, pkw("name"), "Part A.A.A.B"},
		{1015, pkw("name"), "Part A.B"}, {1015, pkw("part"), 1016},
		{1016, pkw("name"), "Part A.B.A"},
		{1020, pkw("name"), "Spec owner"}, {1020, pkw("spec"), 1021},
		{1021, pkw("name"), "Spec"},
	}
	return newPullSource(pullPeopleAttrs, map[datom.ID]edn.Keyword{200: "gender/male", 201: "gender/female"}, facts)
}

func pkw(s string) edn.Keyword { return edn.Keyword(s) }

var pullTreeAttrs = []pullTestAttr{
	{ident: "name", vt: datom.TypeString},
	{ident: "last-name", vt: datom.TypeString},
	{ident: "alias", vt: datom.TypeString, many: true},
	{ident: "sex", vt: datom.TypeKeyword},
	{ident: "age", vt: datom.TypeLong},
	{ident: "salary", vt: datom.TypeLong},
	{ident: "follows", vt: datom.TypeRef, many: true},
}

// pullTreeBase + n is the id of the n-th person of pullTreeSource.
const pullTreeBase = 1000

// pullTreeSource is DataScript's wide-db bench shape: a complete tree of the
// given depth and width over :follows, ids in breadth-first order from
// pullTreeBase+1,
// each person with the attributes of DataScript's bench people.
func pullTreeSource(depth, width int) *pullSource {
	var facts [][3]any
	next := 2
	level := []int{1}
	person := func(id int) {
		sex := pkw("female")
		if id%2 == 1 {
			sex = pkw("male")
		}
		e := pullTreeBase + id
		facts = append(facts,
			[3]any{e, pkw("name"), fmt.Sprintf("P%d", id)},
			[3]any{e, pkw("last-name"), fmt.Sprintf("L%d", id)},
			[3]any{e, pkw("alias"), fmt.Sprintf("A%da", id)},
			[3]any{e, pkw("alias"), fmt.Sprintf("A%db", id)},
			[3]any{e, pkw("sex"), sex},
			[3]any{e, pkw("age"), 20 + id},
			[3]any{e, pkw("salary"), 1000 * id})
	}
	person(1)
	for d := 0; d < depth; d++ {
		var nextLevel []int
		for _, p := range level {
			for i := 0; i < width; i++ {
				c := next
				next++
				person(c)
				facts = append(facts, [3]any{pullTreeBase + p, pkw("follows"), pullTreeBase + c})
				nextLevel = append(nextLevel, c)
			}
		}
		level = nextLevel
	}
	return newPullSource(pullTreeAttrs, nil, facts)
}

// pullCase is one case of testdata/pull/conformance.txt.
type pullCase struct {
	line     int
	cmd      string
	args     map[string]string
	pattern  string
	expected string
}

func readPullCases(t *testing.T, path string) []pullCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []pullCase
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		c := pullCase{line: i + 1, args: map[string]string{}}
		fields := strings.Fields(l)
		c.cmd = fields[0]
		for _, f := range fields[1:] {
			if strings.HasPrefix(f, "eid") {
				break // the rest is the EDN value, re-joined below
			}
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("%s:%d: bad argument %q", path, i+1, f)
			}
			c.args[k] = v
		}
		// eid values may contain spaces ([:name "David"]): re-join.
		if j := strings.Index(l, " eid="); j >= 0 {
			c.args["eid"] = strings.TrimSpace(l[j+len(" eid="):])
		}
		if j := strings.Index(l, " eids="); j >= 0 {
			c.args["eids"] = strings.TrimSpace(l[j+len(" eids="):])
		}
		var pat, exp []string
		i++
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != "----"; i++ {
			pat = append(pat, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: case without ----", path, c.line)
		}
		i++
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			exp = append(exp, lines[i])
		}
		c.pattern = strings.Join(pat, "\n")
		c.expected = strings.TrimSpace(strings.Join(exp, "\n"))
		cases = append(cases, c)
	}
	return cases
}

// pullCanon prints a pull result (or an expected value read from EDN) in one
// canonical form: map entries sorted by their printed key, vectors in order.
// orderedCanon is pullCanon of an ordered pull's result (nil as a nil
// map, as Pull gives it).
func orderedCanon(m edn.Map) string {
	if m == nil {
		return pullCanon(map[edn.Keyword]any(nil))
	}
	return pullCanon(m)
}

// TestPullOrdered checks PullOrdered's order: the pattern's, a key two
// specs name where the first puts it, then the wildcard's :db/id and
// attributes in index order; and that nested results are edn.Maps.
func TestPullOrdered(t *testing.T) {
	ctx := context.Background()
	src := pullPeopleSource()
	keys := func(m edn.Map) string {
		var ks []string
		for _, e := range m {
			ks = append(ks, fmt.Sprint(e.Key))
		}
		return strings.Join(ks, " ")
	}
	for _, c := range []struct {
		pattern string
		eid     any
		want    string // the root's keys
		nested  string // the keys of the first nested map under :father or :friend
	}{
		{`[:name :age :db/id]`, int64(1001), ":name :age :db/id", ""},
		{`[:age :name]`, int64(1001), ":age :name", ""},
		{`[:email :aka :name {:father [:age :name]}]`, int64(1002), ":name :father", ":age :name"},
		{`[{:friend [:name :db/id]} :name]`, int64(1001), ":friend :name", ":name :db/id"},
		{`[(:name :as :who) :age (:aka :as :who)]`, int64(1001), ":who :age", ""},
		{`[(:age :default 0) :name]`, int64(1003), ":age :name", ""},
		{`[:name *]`, int64(1002), ":name :db/id :age :friend :father", ""}, // :friend's id is below :father's
		// The wildcard's :age lands on the key the spec put (as in Pull).
		{`[(:name :as :age) *]`, int64(1002), ":age :db/id :friend :father", ""},
		{`[:gender]`, int64(1001), ":gender", ""},
		{`[:name :_father]`, int64(1001), ":name :_father", ""},
	} {
		got, err := PullOrdered(ctx, src, c.pattern, c.eid)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if k := keys(got); k != c.want {
			t.Errorf("%s: keys %q, want %q", c.pattern, k, c.want)
		}
		m, err := Pull(ctx, src, c.pattern, c.eid)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if g, w := orderedCanon(got), pullCanon(m); g != w {
			t.Errorf("%s: ordered\n%s\nPull\n%s", c.pattern, g, w)
		}
		if c.nested == "" {
			continue
		}
		var sub edn.Map
		for _, k := range []string{"father", "friend"} {
			switch v, _ := got.Get(edn.Keyword(k)); x := v.(type) {
			case edn.Map:
				sub = x
			case edn.Vector:
				sub, _ = x[0].(edn.Map)
			}
		}
		if k := keys(sub); k != c.nested {
			t.Errorf("%s: nested keys %q, want %q", c.pattern, k, c.nested)
		}
	}
	// An entity with none of the attributes, and one that does not exist.
	for _, eid := range []any{int64(1004), edn.Vector{edn.Keyword("name"), "Nobody"}} {
		got, err := PullOrdered(ctx, src, `[:age]`, eid)
		if err != nil || got != nil {
			t.Errorf("%v: %v, %v; want nil, nil", eid, got, err)
		}
	}
	// A reference to an enum value keeps its ident; a cycle ends in {:db/id e}.
	got, err := PullOrdered(ctx, src, `[:gender {:friend ...}]`, int64(1001))
	if err != nil {
		t.Fatal(err)
	}
	gv, _ := got.Get(edn.Keyword("gender"))
	if gm, ok := gv.(edn.Map); !ok || keys(gm) != ":db/id :db/ident" {
		t.Errorf(":gender is %#v, want {:db/id 200 :db/ident :gender/male} as an edn.Map", gv)
	}
	at := got
	for range 3 { // 1001 -> 1002 -> 1003 -> 1001, on the path: {:db/id 1001}
		v, _ := at.Get(edn.Keyword("friend"))
		vec, _ := v.(edn.Vector)
		if len(vec) == 0 {
			t.Fatalf("no :friend in %v", at)
		}
		at, _ = vec[0].(edn.Map)
	}
	if keys(at) != ":db/id" || at[0].Val != int64(1001) {
		t.Errorf("the cycle ends in %v, want {:db/id 1001}", at)
	}
	if _, err := PullOrdered(ctx, src, `[:no/such]`, int64(1001)); err == nil {
		t.Error("an unknown attribute: no error")
	}
}

func pullCanon(v any) string {
	var b strings.Builder
	writePullCanon(&b, v)
	return b.String()
}

func writePullCanon(b *strings.Builder, v any) {
	type kv struct{ k, v string }
	var entries []kv
	switch x := v.(type) {
	case map[edn.Keyword]any:
		if x == nil {
			b.WriteString("nil")
			return
		}
		for k, e := range x {
			entries = append(entries, kv{pullCanon(k), pullCanon(e)})
		}
	case edn.Map:
		for _, e := range x {
			entries = append(entries, kv{pullCanon(e.Key), pullCanon(e.Val)})
		}
	case edn.Vector:
		writePullCanonSeq(b, x)
		return
	case []any:
		writePullCanonSeq(b, x)
		return
	case []map[edn.Keyword]any:
		xs := make([]any, len(x))
		for i, m := range x {
			xs[i] = m
		}
		writePullCanonSeq(b, xs)
		return
	default:
		b.WriteString(qString(v))
		return
	}
	slices.SortFunc(entries, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	b.WriteString("{")
	for i, e := range entries {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(e.k + " " + e.v)
	}
	b.WriteString("}")
}

func writePullCanonSeq(b *strings.Builder, xs []any) {
	b.WriteString("[")
	for i, x := range xs {
		if i > 0 {
			b.WriteString(" ")
		}
		writePullCanon(b, x)
	}
	b.WriteString("]")
}

func pullMustRead(t *testing.T, where, s string) any {
	t.Helper()
	v, err := edn.ReadString(s)
	if err != nil {
		t.Fatalf("%s: read %q: %v", where, s, err)
	}
	return v
}

// TestPullConformance runs testdata/pull/conformance.txt.
func TestPullConformance(t *testing.T) {
	const path = "testdata/pull/conformance.txt"
	cases := readPullCases(t, path)
	if len(cases) < 60 {
		t.Fatalf("only %d cases in %s, want at least 60", len(cases), path)
	}
	dbs := map[string]*pullSource{"people": pullPeopleSource(), "tree": pullTreeSource(2, 2)}
	ctx := context.Background()
	for _, c := range cases {
		where := fmt.Sprintf("%s:%d", path, c.line)
		t.Run(fmt.Sprintf("line%d", c.line), func(t *testing.T) {
			src, ok := dbs[c.args["db"]]
			if !ok {
				t.Fatalf("%s: unknown db %q", where, c.args["db"])
			}
			var got any
			var err error
			switch c.cmd {
			case "pull":
				var m map[edn.Keyword]any
				m, err = Pull(ctx, src, c.pattern, pullMustRead(t, where, c.args["eid"]))
				got = m
			case "pull-many":
				eids, ok := pullMustRead(t, where, c.args["eids"]).(edn.Vector)
				if !ok {
					t.Fatalf("%s: eids must be a vector", where)
				}
				var ms []map[edn.Keyword]any
				ms, err = PullMany(ctx, src, c.pattern, eids)
				got = ms
			default:
				t.Fatalf("%s: unknown command %q", where, c.cmd)
			}
			if want, ok := strings.CutPrefix(c.expected, "error:"); ok {
				want = strings.TrimSpace(want)
				if err == nil {
					t.Fatalf("%s: pattern %s\ngot  %s\nwant error containing %q", where, c.pattern, pullCanon(got), want)
				}
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("%s: pattern %s\ngot error  %q\nwant error containing %q", where, c.pattern, err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: pattern %s: unexpected error: %v", where, c.pattern, err)
			}
			want := pullCanon(pullMustRead(t, where, c.expected))
			if g := pullCanon(got); g != want {
				t.Errorf("%s: pattern %s\ngot  %s\nwant %s", where, c.pattern, g, want)
			}
		})
	}
}

// TestPullErrorsMatchSentinels checks that callers can classify pull
// errors with errors.Is and errors.As.
func TestPullErrorsMatchSentinels(t *testing.T) {
	ctx := context.Background()
	src := pullPeopleSource()
	_, err := Pull(ctx, src, `[[:aka :limit 0]]`, 1001)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("bad option: got %v, want an error matching ErrMalformed", err)
	}
	var qe *Error
	if !errors.As(err, &qe) || qe.Clause != `[:aka :limit 0]` {
		t.Errorf("bad option: got %#v, want *Error with Clause [:aka :limit 0]", err)
	}
	_, err = Pull(ctx, src, `[:name]`, "Petr")
	if !errors.Is(err, ErrInput) {
		t.Errorf("bad eid: got %v, want an error matching ErrInput", err)
	}
	hist := newPullSourceHistory(pullPeopleAttrs, nil, [][3]any{{1001, pkw("name"), "Petr"}}, true)
	_, err = Pull(ctx, hist, `[:name]`, 1001)
	if !errors.Is(err, ErrInput) {
		t.Errorf("history source: got %v, want an error matching ErrInput", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Pull(cctx, src, `[:name]`, 1001)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v, want context.Canceled", err)
	}
}

// TestPullDefaultLimit checks the implicit 1000-value limit on
// cardinality-many attributes and reverse refs, and that :limit nil lifts it.
func TestPullDefaultLimit(t *testing.T) {
	var facts [][3]any
	for i := 0; i < 1500; i++ {
		facts = append(facts, [3]any{1001, pkw("aka"), fmt.Sprintf("v%04d", i)})
		facts = append(facts, [3]any{2000 + i, pkw("father"), 1001})
	}
	src := newPullSource(pullPeopleAttrs, nil, facts)
	ctx := context.Background()
	for _, tc := range []struct {
		pattern string
		key     edn.Keyword
		want    int
	}{
		{`[:aka]`, "aka", DefaultPullLimit},
		{`[[:aka :limit nil]]`, "aka", 1500},
		{`[[:aka :limit 1200]]`, "aka", 1200},
		{`[:_father]`, "_father", DefaultPullLimit},
		{`[(limit :_father nil)]`, "_father", 1500},
		{`[:aka :name]`, "aka", DefaultPullLimit}, // the one-scan-per-entity path
	} {
		m, err := Pull(ctx, src, tc.pattern, 1001)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		got, _ := m[tc.key].(edn.Vector)
		if len(got) != tc.want {
			t.Errorf("%s: got %d values, want %d", tc.pattern, len(got), tc.want)
		}
	}
}

// TestPullDeepRecursion follows a 5000-long chain with ... (the path check
// switches to a map past a few entries) and closes it into a cycle.
func TestPullDeepRecursion(t *testing.T) {
	const n = 5000
	var facts [][3]any
	for i := 1; i <= n; i++ {
		next := i + 1
		if i == n {
			next = 1
		}
		facts = append(facts, [3]any{1000 + i, pkw("father"), 1000 + next})
	}
	src := newPullSource(pullPeopleAttrs, nil, facts)
	m, err := Pull(context.Background(), src, `[:db/id {:father ...}]`, 1001)
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for {
		f, ok := m["father"].(map[edn.Keyword]any)
		if !ok {
			break
		}
		depth++
		m = f
	}
	if depth != n || m["db/id"] != int64(1001) {
		t.Errorf("got depth %d ending at %v, want %d ending at the cycle {:db/id 1001}", depth, m["db/id"], n)
	}
}

// TestPullPatternReuse applies one parsed pattern to two databases with
// different schemas (the bound cache must not leak between them) and from
// several goroutines.
func TestPullPatternReuse(t *testing.T) {
	p := MustParsePull(`[:name {:follows [:name]}]`)
	if got, want := p.String(), `[:name {:follows [:name]}]`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	ctx := context.Background()
	tree := pullTreeSource(1, 2)
	people := pullPeopleSource()
	m, err := p.Pull(ctx, tree, pullTreeBase+1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pullCanon(m), `{:follows [{:name "P2"} {:name "P3"}] :name "P1"}`; got != want {
		t.Errorf("tree: got %s, want %s", got, want)
	}
	if _, err := p.Pull(ctx, people, 1001); !errors.Is(err, ErrMalformed) {
		t.Errorf("people (no :follows): got %v, want ErrMalformed for the unknown attribute", err)
	}
	done := make(chan string, 8)
	for range 8 {
		go func() {
			m, err := p.Pull(ctx, tree, pullTreeBase+1)
			if err != nil {
				done <- err.Error()
				return
			}
			done <- pullCanon(m)
		}()
	}
	for range 8 {
		if got, want := <-done, `{:follows [{:name "P2"} {:name "P3"}] :name "P1"}`; got != want {
			t.Errorf("concurrent: got %s, want %s", got, want)
		}
	}
}

// TestParsePullGoData parses patterns given as Go values rather than text.
func TestParsePullGoData(t *testing.T) {
	src := pullPeopleSource()
	pat := []any{pkw("name"), edn.Map{{Key: pkw("child"), Val: edn.Vector{pkw("name")}}}}
	m, err := Pull(context.Background(), src, pat, int64(1001))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pullCanon(m), `{:child [{:name "David"} {:name "Thomas"}] :name "Petr"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := ParsePull(map[any]any{pkw("child"): edn.Vector{pkw("name")}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Go map pattern: got %v, want ErrMalformed", err)
	}
}

// TestPullScans pins the number of index scans of the access paths: a
// pattern of several attributes reads the entity once.
func TestPullScans(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		pattern string
		want    int
	}{
		{`[:name]`, 1},
		{`[:name :age :aka]`, 1},
		{`[:name :_father]`, 2},
		{`[*]`, 1},
		{`[:name {:child [:name]}]`, 3}, // 1001, then 1002 and 1003 once each
	} {
		src := pullPeopleSource()
		if _, err := Pull(ctx, src, tc.pattern, 1001); err != nil {
			t.Fatal(err)
		}
		if got := src.scans.Load(); got != int64(tc.want) {
			t.Errorf("%s: %d scans, want %d", tc.pattern, got, tc.want)
		}
	}
}

func FuzzParsePull(f *testing.F) {
	cases, err := os.ReadFile("testdata/pull/conformance.txt")
	if err != nil {
		f.Fatal(err)
	}
	// Seed with every pattern of the conformance file.
	lines := strings.Split(string(cases), "\n")
	for i := 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i-1], "pull") {
			f.Add(lines[i])
		}
	}
	src := pullPeopleSource()
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParsePull(text)
		if err != nil {
			return
		}
		// A parsed pattern must either bind or fail cleanly, never panic,
		// and PullOrdered must give the same tree (or the same failure).
		for _, e := range []datom.ID{1001, 1010} {
			m, err := p.Pull(context.Background(), src, e)
			o, oerr := p.PullOrdered(context.Background(), src, e)
			if (err == nil) != (oerr == nil) {
				t.Fatalf("%s on %d: Pull error %v, PullOrdered error %v", text, e, err, oerr)
			}
			if err != nil {
				continue
			}
			if g, w := orderedCanon(o), pullCanon(m); g != w {
				t.Fatalf("%s on %d: PullOrdered\n%s\nPull\n%s", text, e, g, w)
			}
		}
	})
}

// BenchmarkPull runs DataScript's pull benches over its wide tree (depth 4,
// width 5: 781 entities) from the root, on MemSource and on a lean
// hash-per-entity source that shows pull's own cost.
func BenchmarkPull(b *testing.B) {
	mem := pullTreeSource(4, 5).MemSource
	sources := []struct {
		name string
		src  Source
	}{{"mem", mem}, {"lean", newPullLeanSource(mem)}}
	ctx := context.Background()
	for _, sc := range sources {
		for _, bc := range []struct{ name, pattern string }{
			{"pull-one", `[:name {:follows ...}]`},
			{"pull-many", `[:db/id :last-name :alias :sex :age :salary {:follows ...}]`},
			{"pull-wildcard", `[* {:follows ...}]`},
		} {
			b.Run(sc.name+"/"+bc.name, func(b *testing.B) {
				p := MustParsePull(bc.pattern)
				m, err := p.Pull(ctx, sc.src, pullTreeBase+1)
				if err != nil {
					b.Fatal(err)
				}
				if n := pullCountEntities(m); n != 781 {
					b.Fatalf("pulled %d entities, want 781", n)
				}
				b.ReportAllocs()
				cpu := startCPU(b)
				for b.Loop() {
					if _, err := p.Pull(ctx, sc.src, pullTreeBase+1); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/781, "ns/entity")
			})
		}
	}
}

func pullCountEntities(m map[edn.Keyword]any) int {
	n := 1
	if fs, ok := m["follows"].(edn.Vector); ok {
		for _, f := range fs {
			n += pullCountEntities(f.(map[edn.Keyword]any))
		}
	}
	return n
}

// TestPullBatchedScans pins the reads of a pull over a source with
// SeekDatoms: each level of the pull is one ordered pass, seeking again
// only over long gaps.
func TestPullBatchedScans(t *testing.T) {
	ctx := context.Background()
	src := &pullSeekSource{pullSource: pullPeopleSource()}
	if _, err := Pull(ctx, src, `[:name {:child [:name]}]`, 1001); err != nil {
		t.Fatal(err)
	}
	if s, k := src.scans.Load(), src.seeks.Load(); s != 1 || k != 1 {
		t.Errorf("[:name {:child [:name]}]: %d scans and %d seeks, want 1 and 1", s, k)
	}

	// The wide tree: ids are allocated level by level, so each level is
	// one pass (the root is a plain scan).
	tree := &pullSeekSource{pullSource: pullTreeSource(4, 5)}
	m, err := Pull(ctx, tree, `[:name {:follows ...}]`, pullTreeBase+1)
	if err != nil {
		t.Fatal(err)
	}
	if n := pullCountEntities(m); n != 781 {
		t.Fatalf("pulled %d entities, want 781", n)
	}
	if s, k := tree.scans.Load(), tree.seeks.Load(); s != 1 || k != 4 {
		t.Errorf("wide tree: %d scans and %d seeks, want 1 and 4", s, k)
	}
	// Seeking over every gap gives the same result.
	defer func(b int) { fetchSkipBudget = b }(fetchSkipBudget)
	fetchSkipBudget = 1
	m2, err := Pull(ctx, tree, `[:name {:follows ...}]`, pullTreeBase+1)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := pullCanon(m2), pullCanon(m); g != w {
		t.Errorf("seeking over every gap: got %s, want %s", g, w)
	}
	fetchSkipBudget = 48
	chunked := &pullChunkSeekSource{pullSource: pullTreeSource(4, 5)}
	m3, err := Pull(ctx, chunked, `[:name {:follows ...}]`, pullTreeBase+1)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := pullCanon(m3), pullCanon(m); g != w {
		t.Errorf("through SeekDatomChunks: got %s, want %s", g, w)
	}
	if s, k := chunked.scans.Load(), chunked.seeks.Load(); s != 1 || k != 4 {
		t.Errorf("through SeekDatomChunks: %d scans and %d seeks, want 1 and 4", s, k)
	}
}
