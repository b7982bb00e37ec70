package query

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

func mustEntity(t *testing.T, src Source, eid any) *Entity {
	t.Helper()
	en, err := EntityOf(context.Background(), src, eid)
	if err != nil {
		t.Fatalf("EntityOf(%v): %v", eid, err)
	}
	if en == nil {
		t.Fatalf("EntityOf(%v) = nil, want an entity", eid)
	}
	return en
}

func mustGet(t *testing.T, en *Entity, kw edn.Keyword) any {
	t.Helper()
	v, err := en.Get(context.Background(), kw)
	if err != nil {
		t.Fatalf("Get(%s) on %v: %v", kw, en, err)
	}
	return v
}

// entityIDs returns the ids of a set of *Entity values.
func entityIDs(t *testing.T, v any) []int64 {
	t.Helper()
	set, ok := v.(edn.Set)
	if !ok {
		t.Fatalf("got %T (%v), want edn.Set of *Entity", v, v)
	}
	var ids []int64
	for _, x := range set {
		e, ok := x.(*Entity)
		if !ok {
			t.Fatalf("set element %T, want *Entity", x)
		}
		ids = append(ids, e.ID())
	}
	return ids
}

func TestEntityOfResolves(t *testing.T) {
	ctx := context.Background()
	src := pullPeopleSource()
	for _, tc := range []struct {
		eid  any
		want int64
	}{
		{int64(1001), 1001},
		{1002, 1002},
		{edn.Keyword("gender/male"), 200},
		{edn.Vector{edn.Keyword("name"), "Thomas"}, 1003},
		{edn.Vector{edn.Keyword("email"), "petr@x"}, 1001},
		{int64(5555), 5555}, // ids always give an entity, as in Datomic
	} {
		if got := mustEntity(t, src, tc.eid).ID(); got != tc.want {
			t.Errorf("EntityOf(%v).ID() = %d, want %d", tc.eid, got, tc.want)
		}
	}
	for _, eid := range []any{edn.Keyword("no/such"), edn.Vector{edn.Keyword("name"), "Nobody"}} {
		en, err := EntityOf(ctx, src, eid)
		if en != nil || err != nil {
			t.Errorf("EntityOf(%v) = %v, %v; want nil, nil", eid, en, err)
		}
	}
	for _, eid := range []any{"Petr", nil, edn.Vector{edn.Keyword("aka"), "Devil"}, edn.Vector{edn.Keyword("name")}} {
		if _, err := EntityOf(ctx, src, eid); !errors.Is(err, ErrInput) {
			t.Errorf("EntityOf(%v): got %v, want an error matching ErrInput", eid, err)
		}
	}
	hist := newPullSourceHistory(pullPeopleAttrs, nil, [][3]any{{1001, pkw("name"), "Petr"}}, true)
	if _, err := EntityOf(ctx, hist, 1001); !errors.Is(err, ErrInput) {
		t.Errorf("history source: got %v, want ErrInput", err)
	}
}

func TestEntityGet(t *testing.T) {
	src := pullPeopleSource()
	petr := mustEntity(t, src, 1001)
	if got := mustGet(t, petr, "name"); got != "Petr" {
		t.Errorf(":name = %v, want Petr", got)
	}
	if got := mustGet(t, petr, "age"); got != int64(44) {
		t.Errorf(":age = %#v, want int64(44)", got)
	}
	if got, want := mustGet(t, petr, "aka"), (edn.Set{"Devil", "Tupen"}); !slices.Equal(got.(edn.Set), want) {
		t.Errorf(":aka = %v, want %v", got, want)
	}
	if got := mustGet(t, petr, "db/id"); got != int64(1001) {
		t.Errorf(":db/id = %v, want 1001", got)
	}
	if got := mustGet(t, petr, "gender"); got != edn.Keyword("gender/male") {
		t.Errorf(":gender = %#v, want the ident :gender/male", got)
	}
	if got, want := entityIDs(t, mustGet(t, petr, "child")), []int64{1002, 1003}; !slices.Equal(got, want) {
		t.Errorf(":child = %v, want %v", got, want)
	}
	if got := mustGet(t, petr, "father"); got != nil {
		t.Errorf(":father = %v, want nil (absent)", got)
	}

	// Navigation: Matthew's father's father is Petr.
	matthew := mustEntity(t, src, 1006)
	thomas, ok := mustGet(t, matthew, "father").(*Entity)
	if !ok {
		t.Fatalf(":father is %T, want *Entity", mustGet(t, matthew, "father"))
	}
	grand := mustGet(t, thomas, "father").(*Entity)
	if got := mustGet(t, grand, "name"); got != "Petr" {
		t.Errorf("father of father of Matthew: %v, want Petr", got)
	}

	// Reverse references.
	if got, want := entityIDs(t, mustGet(t, petr, "_father")), []int64{1002, 1003}; !slices.Equal(got, want) {
		t.Errorf(":_father = %v, want %v", got, want)
	}
	if got := mustGet(t, mustEntity(t, src, 1002), "_father"); got != nil {
		t.Errorf("David :_father = %v, want nil", got)
	}
	owner, ok := mustGet(t, mustEntity(t, src, 1011), "_part").(*Entity)
	if !ok || owner.ID() != 1010 {
		t.Errorf(":_part of a component = %v, want the single owner entity 1010", owner)
	}
	male := mustEntity(t, src, edn.Keyword("gender/male"))
	if got, want := entityIDs(t, mustGet(t, male, "_gender")), []int64{1001}; !slices.Equal(got, want) {
		t.Errorf(":_gender of :gender/male = %v, want %v", got, want)
	}

	ctx := context.Background()
	for _, kw := range []edn.Keyword{"nope", "_nope", "_name"} {
		if _, err := petr.Get(ctx, kw); !errors.Is(err, ErrInput) {
			t.Errorf("Get(%s): got %v, want ErrInput", kw, err)
		}
	}
}

// TestEntityGetKeywordCopies asks for the same attributes through
// keywords that are the same strings each time and through copies made
// afresh, interleaved and more of them than the caches hold: each gives
// its attribute's value (Entity's attribute cache is looked up by the
// address of a keyword's bytes first).
func TestEntityGetKeywordCopies(t *testing.T) {
	src := pullPeopleSource()
	petr := mustEntity(t, src, 1001)
	want := map[edn.Keyword]any{"name": "Petr", "age": int64(44), "gender": edn.Keyword("gender/male"), "father": nil, "email": "petr@x"}
	keys := slices.Sorted(maps.Keys(want))
	for round := range 40 {
		for i, k := range keys {
			kw := k
			if (round+i)%3 == 0 {
				kw = edn.Keyword(strings.Clone(string(k))) // bytes elsewhere
			}
			if got := mustGet(t, petr, kw); got != want[k] {
				t.Fatalf("round %d: Get(%s) = %#v, want %#v", round, k, got, want[k])
			}
		}
		// Keywords that name nothing, each a fresh string.
		if _, err := petr.Get(context.Background(), edn.Keyword(fmt.Sprintf("no/such%d", round))); !errors.Is(err, ErrInput) {
			t.Fatalf("Get of an unknown attribute: %v, want ErrInput", err)
		}
	}
}

func TestEntityKeysAndMap(t *testing.T) {
	ctx := context.Background()
	src := pullPeopleSource()
	petr := mustEntity(t, src, 1001)
	keys, err := petr.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []edn.Keyword{"name", "aka", "age", "child", "friend", "gender", "email"}
	if !slices.Equal(keys, want) {
		t.Errorf("Keys = %v, want %v", keys, want)
	}
	m, err := mustEntity(t, src, 1002).Map(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 4 || m["name"] != "David" || m["age"] != int64(20) || m["father"].(*Entity).ID() != 1001 {
		t.Errorf("Map of David = %v, want name, age, father 1001 and friend", m)
	}
	none, err := mustEntity(t, src, 5555).Keys(ctx)
	if err != nil || len(none) != 0 {
		t.Errorf("Keys of an entity without datoms = %v, %v; want none", none, err)
	}
}

// TestEntityLaziness pins when an Entity reads: nothing at EntityOf, one
// scan at the first Get, none after; Touch reads the components too.
func TestEntityLaziness(t *testing.T) {
	ctx := context.Background()
	src := pullPeopleSource()
	petr := mustEntity(t, src, 1001)
	if n := src.scans.Load(); n != 0 {
		t.Errorf("EntityOf by id made %d scans, want 0", n)
	}
	mustGet(t, petr, "name")
	mustGet(t, petr, "aka")
	if _, err := petr.Keys(ctx); err != nil {
		t.Fatal(err)
	}
	if n := src.scans.Load(); n != 1 {
		t.Errorf("three reads made %d scans, want 1", n)
	}
	mustGet(t, petr, "_father")
	mustGet(t, petr, "_father")
	if n := src.scans.Load(); n != 2 {
		t.Errorf("reverse ref read twice: %d scans in all, want 2", n)
	}

	// Touch on Part A loads its 7-entity component tree.
	partA := mustEntity(t, src, 1010)
	before := src.scans.Load()
	if err := partA.Touch(ctx); err != nil {
		t.Fatal(err)
	}
	if n := src.scans.Load() - before; n != 7 {
		t.Errorf("Touch made %d scans, want 7 (one per part)", n)
	}
	var names []string
	var walk func(e *Entity)
	walk = func(e *Entity) {
		names = append(names, mustGet(t, e, "name").(string))
		if parts, ok := mustGet(t, e, "part").(edn.Set); ok {
			for _, p := range parts {
				walk(p.(*Entity))
			}
		}
	}
	before = src.scans.Load()
	walk(partA)
	if n := src.scans.Load() - before; n != 0 {
		t.Errorf("walking a touched tree made %d scans, want 0", n)
	}
	if len(names) != 7 || names[0] != "Part A" || names[6] != "Part A.B.A" {
		t.Errorf("walked %v, want the 7 parts in order", names)
	}
}

func TestEntityConcurrent(t *testing.T) {
	src := pullPeopleSource()
	petr := mustEntity(t, src, 1001)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			v, err := petr.Get(context.Background(), "name")
			if err == nil && v != "Petr" {
				err = fmt.Errorf("got %v, want Petr", v)
			}
			if err == nil {
				_, err = petr.Get(context.Background(), "_father")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := src.scans.Load(); n != 2 {
		t.Errorf("16 concurrent readers made %d scans, want 2 (one load, one reverse read)", n)
	}
}

// TestPullAcceptsEntity pulls from an *Entity, as a caller navigating
// entities would.
func TestPullAcceptsEntity(t *testing.T) {
	src := pullPeopleSource()
	david := mustEntity(t, src, edn.Vector{edn.Keyword("name"), "David"})
	m, err := Pull(context.Background(), src, `[:name {:father [:name]}]`, david)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pullCanon(m), `{:father {:name "Petr"} :name "David"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestEntityCancelled(t *testing.T) {
	src := pullPeopleSource()
	en := mustEntity(t, src, 1001)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := en.Get(ctx, "name"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: got %v, want context.Canceled", err)
	}
	// A failed load is not remembered: a later call succeeds.
	if got := mustGet(t, en, "name"); got != "Petr" {
		t.Errorf("after a cancelled load: %v, want Petr", got)
	}
}

func ExampleEntityOf() {
	ctx := context.Background()
	src := pullPeopleSource()
	david, _ := EntityOf(ctx, src, edn.Vector{edn.Keyword("name"), "David"})
	father, _ := david.Get(ctx, "father")
	name, _ := father.(*Entity).Get(ctx, "name")
	gender, _ := father.(*Entity).Get(ctx, "gender")
	fmt.Println(name, gender)
	// Output: Petr :gender/male
}

func ExamplePull() {
	ctx := context.Background()
	src := pullPeopleSource()
	m, err := Pull(ctx, src, `[:name {:child [:name]} [:aka :limit 1]]`, edn.Vector{edn.Keyword("name"), "Petr"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m["name"], m["aka"], m["child"])
	// Output: Petr [Devil] [map[:name:David] map[:name:Thomas]]
}

// entityTreeWalk reads :name and walks :follows from en, as DataScript's
// entity bench does, into a canonical string.
func entityTreeWalk(t *testing.T, en *Entity) string {
	t.Helper()
	s := fmt.Sprintf("(%v", mustGet(t, en, "name"))
	if fs, ok := mustGet(t, en, "follows").(edn.Set); ok {
		for _, f := range fs {
			s += " " + entityTreeWalk(t, f.(*Entity))
		}
	}
	return s + ")"
}

// TestEntityGroupRead pins that the entities references give are read
// together when the source can seek: walking a tree reads a level per
// pass, and gives what reading entity by entity gives.
func TestEntityGroupRead(t *testing.T) {
	plain := pullTreeSource(3, 4)
	want := entityTreeWalk(t, mustEntity(t, plain, pullTreeBase+1))
	if n := plain.scans.Load(); n != 1+4+16+64 {
		t.Errorf("plain source: %d scans, want one per entity (85)", n)
	}
	seek := &pullSeekSource{pullSource: pullTreeSource(3, 4)}
	if got := entityTreeWalk(t, mustEntity(t, seek, pullTreeBase+1)); got != want {
		t.Errorf("read in groups:\n%s\nwant\n%s", got, want)
	}
	// The root alone, then each level (ids are breadth-first) in a pass.
	if s, k := seek.scans.Load(), seek.seeks.Load(); s != 1 || k != 3 {
		t.Errorf("seeking source: %d scans and %d seeks, want 1 and 3", s, k)
	}

	// Concurrent walks share the groups and agree.
	seek = &pullSeekSource{pullSource: pullTreeSource(3, 4)}
	root := mustEntity(t, seek, pullTreeBase+1)
	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	get := func(en *Entity, kw edn.Keyword) any {
		v, err := en.Get(context.Background(), kw)
		if err != nil {
			panic(err) // recovered below
		}
		return v
	}
	for i := range got {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("%v", r)
				}
			}()
			for _, f := range get(root, "follows").(edn.Set) {
				for _, g := range get(f.(*Entity), "follows").(edn.Set) {
					got[i] += fmt.Sprint(get(g.(*Entity), "name"), " ")
				}
			}
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i] == "" || got[i] != got[0] {
			t.Fatalf("concurrent walks disagree: %q vs %q", got[i], got[0])
		}
	}
	if k := seek.seeks.Load(); k != 2 {
		t.Errorf("concurrent walks: %d seeks, want 2 (each level once)", k)
	}
}

// TestEntityGroupBound checks that a group is at most entityGroupMax
// entities (so reading one entity reads at most that many on speculation)
// and that an entity with no datoms in a group reads as empty.
func TestEntityGroupBound(t *testing.T) {
	const n = entityGroupMax + 44
	facts := [][3]any{{1000, pkw("name"), "hub"}}
	for i := 1; i <= n; i++ {
		facts = append(facts, [3]any{1000, pkw("follows"), 1000 + i})
		if i != 7 { // 1007 has no datoms of its own
			facts = append(facts, [3]any{1000 + i, pkw("name"), fmt.Sprint("p", i)})
		}
	}
	src := &pullSeekSource{pullSource: newPullSource(pullTreeAttrs, nil, facts)}
	hub := mustEntity(t, src, 1000)
	fs := mustGet(t, hub, "follows").(edn.Set)
	if len(fs) != n {
		t.Fatalf("%d follows, want %d", len(fs), n)
	}
	mustGet(t, fs[0].(*Entity), "name")
	if k := src.seeks.Load(); k != 1 {
		t.Errorf("reading the first target: %d seeks, want 1", k)
	}
	for i, f := range fs {
		got := mustGet(t, f.(*Entity), "name")
		want := any(fmt.Sprint("p", i+1))
		if i+1 == 7 {
			want = nil
		}
		if got != want {
			t.Errorf("target %d: name %v, want %v", i+1, got, want)
		}
	}
	if k := src.seeks.Load(); k != 2 {
		t.Errorf("reading all %d targets: %d seeks, want 2 (groups of %d)", n, k, entityGroupMax)
	}
	if s := src.scans.Load(); s != 1 {
		t.Errorf("%d plain scans, want 1 (the hub)", s)
	}
}

// TestEntityUnknownAttribute: a datom of an attribute the schema does not
// know makes reading its entity fail with an error, read alone or in a
// group, and pull with * fail too.
func TestEntityUnknownAttribute(t *testing.T) {
	base := newPullSource(pullTreeAttrs, nil, [][3]any{
		{1000, pkw("follows"), 1001}, {1000, pkw("follows"), 1002},
		{1001, pkw("name"), "a"}, {1002, pkw("name"), "b"},
	})
	ds := append(slices.Clone(base.All()), datom.Datom{E: 1002, A: 999999, V: "x", Tx: datom.TxID(1), Added: true})
	plain := &pullSource{MemSource: NewMemSource(base.Schema(), ds, false)}
	ctx := context.Background()
	for _, src := range []Source{plain, &pullSeekSource{pullSource: plain}} {
		hub := mustEntity(t, src, 1000)
		fs := mustGet(t, hub, "follows").(edn.Set)
		if _, err := fs[1].(*Entity).Get(ctx, "name"); err == nil {
			t.Errorf("%T: Get on an entity with an unknown attribute: no error", src)
		}
		if _, err := Pull(ctx, src, `[* {:follows [*]}]`, 1000); err == nil {
			t.Errorf("%T: pull * over an unknown attribute: no error", src)
		}
	}
}

// entityCanon renders an entity-API value with entities as #e<id>, so that
// values from different sources compare.
// refTargets returns the entities an Entity.Get value refers to: the
// entity itself, or the entities of a cardinality-many set.
func refTargets(v any) []*Entity {
	var vs []any
	switch x := v.(type) {
	case edn.Set:
		vs = x
	case *Entity:
		vs = []any{x}
	}
	var out []*Entity
	for _, tg := range vs {
		if c, ok := tg.(*Entity); ok {
			out = append(out, c)
		}
	}
	return out
}

func entityCanon(v any) string {
	switch x := v.(type) {
	case *Entity:
		return fmt.Sprintf("#e%d", x.ID())
	case edn.Set:
		s := "#{"
		for i, e := range x {
			if i > 0 {
				s += " "
			}
			s += entityCanon(e)
		}
		return s + "}"
	case map[edn.Keyword]any:
		keys := slices.Sorted(maps.Keys(x))
		s := "{"
		for _, k := range keys {
			s += fmt.Sprintf("%s %s, ", k, entityCanon(x[k]))
		}
		return s + "}"
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// entityModel is what Get should give for attribute kw of entity e, from
// the plain list of datoms: values in EAVT order, refs as #e<id> or the
// target's ident.
func entityModel(all []datom.Datom, s *datom.Schema, e datom.ID, kw edn.Keyword) string {
	a := s.AttrByIdent(kw)
	var vs edn.Set
	for _, d := range all {
		if d.E != e || d.A != a.ID {
			continue
		}
		v := d.V
		if a.IsRef() {
			if id, ok := v.(int64); ok {
				if ident, ok := s.Ident(id); ok {
					v = ident
				} else {
					var boxed any = id
					v = &Entity{id: &boxed}
				}
			}
		}
		vs = append(vs, v)
	}
	switch {
	case len(vs) == 0:
		return entityCanon(nil)
	case a.Cardinality == datom.CardinalityMany:
		return entityCanon(vs)
	}
	return entityCanon(vs[0])
}

// TestEntityModel reads random graphs (pullModelSource) through Entity on
// each kind of Source (plain scans, SeekDatoms, SeekDatomChunks, and
// EntityDatoms with the entities' datoms split in two) and checks every
// attribute of every entity reached against the list of datoms, as well
// as Keys and Map, walking from a random entity so that entities are read
// in groups.
func TestEntityModel(t *testing.T) {
	seed := *pullModelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -pull.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x51ed27))
	ctx := context.Background()
	attrs := []edn.Keyword{"m/name", "m/tag", "m/n", "m/friend", "m/best", "m/part", "m/main", "m/kind"}
	for round := range 60 {
		ps, n := pullModelSource(rng)
		all := ps.All()
		schema := ps.Schema()
		var src Source
		switch round % 4 {
		case 0:
			src = ps
		case 1:
			src = &pullSeekSource{pullSource: ps}
		case 2:
			src = &pullChunkSeekSource{pullSource: ps}
		default:
			src = &pullReadSource{pullSource: ps}
		}
		// Breadth-first from a random root through every reference, reading
		// the attributes in a random order.
		root := mustEntity(t, src, 1001+rng.IntN(n))
		queue, seen := []*Entity{root}, map[datom.ID]bool{root.ID(): true}
		for len(queue) > 0 {
			en := queue[0]
			queue = queue[1:]
			for _, i := range rng.Perm(len(attrs)) {
				kw := attrs[i]
				v := mustGet(t, en, kw)
				if got, want := entityCanon(v), entityModel(all, schema, en.ID(), kw); got != want {
					t.Fatalf("seed %d, round %d (%T): entity %d %s = %s, want %s", seed, round, src, en.ID(), kw, got, want)
				}
				for _, c := range refTargets(v) {
					if !seen[c.ID()] {
						seen[c.ID()] = true
						queue = append(queue, c)
					}
				}
			}
			keys, err := en.Keys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var want []edn.Keyword
			for i, d := range all {
				if d.E == en.ID() && (i == 0 || all[i-1].E != d.E || all[i-1].A != d.A) {
					want = append(want, schema.Attr(d.A).Ident)
				}
			}
			if !slices.Equal(keys, want) {
				t.Fatalf("seed %d, round %d (%T): entity %d keys %v, want %v", seed, round, src, en.ID(), keys, want)
			}
			m, err := en.Map(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if got, want := entityCanon(m[k]), entityModel(all, schema, en.ID(), k); got != want {
					t.Fatalf("seed %d, round %d (%T): entity %d Map[%s] = %s, want %s", seed, round, src, en.ID(), k, got, want)
				}
			}
		}
	}
}

// TestEntitySetBox checks that the sets Get boxes in a group's blocks are
// edn.Sets like any other (type, value, reflection, equality) and survive
// collections while only the interfaces refer to them.
func TestEntitySetBox(t *testing.T) {
	g := &entityGroup{read: 3}
	var boxed []any
	for i := range 1000 {
		vs := g.set(i%5 + 1)
		for j := range vs {
			vs[j] = int64(i*10 + j)
		}
		boxed = append(boxed, g.box(vs))
	}
	g = nil
	runtime.GC()
	runtime.GC()
	for i, v := range boxed {
		s, ok := v.(edn.Set)
		if !ok || reflect.TypeOf(v) != reflect.TypeOf(edn.Set(nil)) {
			t.Fatalf("box %d: %T, want edn.Set", i, v)
		}
		want := make(edn.Set, i%5+1)
		for j := range want {
			want[j] = int64(i*10 + j)
		}
		if !reflect.DeepEqual(s, want) || fmt.Sprint(v) != fmt.Sprint(want) {
			t.Fatalf("box %d: %v, want %v", i, v, want)
		}
		if len(s) != cap(s) {
			t.Fatalf("box %d: cap %d, want %d (appending must copy)", i, cap(s), len(s))
		}
	}
}
