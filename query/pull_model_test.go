package query

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

var pullModelSeed = flag.Uint64("pull.seed", 0, "seed for TestPullModel (0: from the clock)")

// TestPullModel pulls random patterns from random graphs and compares the
// result with refPull, a naive reading of the same semantics over the
// plain list of datoms (no index, no scan planning, no shared buffers).
// It prints its seed; rerun a failure with -pull.seed.
func TestPullModel(t *testing.T) {
	seed := *pullModelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -pull.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	ctx := context.Background()
	defer func(b int) { fetchSkipBudget = b }(fetchSkipBudget)
	for round := 0; round < 40; round++ {
		ps, nEnt := pullModelSource(rng)
		all := ps.All()
		// Odd rounds read through SeekDatoms or SeekDatomChunks, one in
		// four through EntityDatoms; every other four rounds seek over
		// each gap.
		var src Source = ps
		switch round % 4 {
		case 1:
			src = &pullSeekSource{pullSource: ps}
		case 2:
			src = &pullReadSource{pullSource: ps}
		case 3:
			src = &pullChunkSeekSource{pullSource: ps}
		}
		fetchSkipBudget = []int{1, 48}[round/4%2]
		for i := 0; i < 40; i++ {
			pat := pullModelPattern(rng, 0)
			text := qString(pat)
			p, err := ParsePull(text)
			if err != nil {
				t.Fatalf("seed %d: generated pattern %s does not parse: %v", seed, text, err)
			}
			e := datom.ID(1001 + rng.IntN(nEnt+1)) // sometimes one past the last: missing
			got, err := p.Pull(ctx, src, e)
			if err != nil {
				t.Fatalf("seed %d: pull %s on %d: %v", seed, text, e, err)
			}
			want := refPull(all, src.Schema(), p, e, nil, map[*pullSpec]int{})
			if g, w := pullCanon(got), pullCanon(want); g != w {
				t.Fatalf("seed %d, round %d: pull %s on %d\ngot  %s\nwant %s", seed, round, text, e, g, w)
			}
			// The ordered form holds the same tree, each key once.
			ord, err := p.PullOrdered(ctx, src, e)
			if err != nil {
				t.Fatalf("seed %d: ordered pull %s on %d: %v", seed, text, e, err)
			}
			if g, w := orderedCanon(ord), pullCanon(want); g != w {
				t.Fatalf("seed %d, round %d: ordered pull %s on %d\ngot  %s\nwant %s", seed, round, text, e, g, w)
			}
		}
		// PullMany pulls several roots together.
		roots := make([]any, 1+rng.IntN(4))
		for i := range roots {
			roots[i] = int64(1001 + rng.IntN(nEnt+1))
		}
		pat := pullModelPattern(rng, 0)
		p := MustParsePull(qString(pat))
		got, err := PullMany(ctx, src, p, roots)
		if err != nil {
			t.Fatalf("seed %d: pull-many %s on %v: %v", seed, p, roots, err)
		}
		for i, r := range roots {
			want := refPull(all, src.Schema(), p, r.(int64), nil, map[*pullSpec]int{})
			if g, w := pullCanon(got[i]), pullCanon(want); g != w {
				t.Fatalf("seed %d, round %d: pull-many %s on %v, root %d\ngot  %s\nwant %s", seed, round, p, roots, r, g, w)
			}
		}
	}
}

var pullModelAttrs = []pullTestAttr{
	{ident: "m/name", vt: datom.TypeString},
	{ident: "m/tag", vt: datom.TypeString, many: true},
	{ident: "m/n", vt: datom.TypeLong},
	{ident: "m/friend", vt: datom.TypeRef, many: true},
	{ident: "m/best", vt: datom.TypeRef},
	{ident: "m/part", vt: datom.TypeRef, many: true, component: true},
	{ident: "m/main", vt: datom.TypeRef, component: true},
	{ident: "m/kind", vt: datom.TypeRef},
}

// pullModelSource makes a random graph of up to 12 entities (ids from
// 1001) with cycles, components (possibly shared or cyclic) and enum refs
// to :kind/a and :kind/b (200, 201).
func pullModelSource(rng *rand.Rand) (*pullSource, int) {
	n := 1 + rng.IntN(12)
	ent := func() int { return 1001 + rng.IntN(n) }
	var facts [][3]any
	seen := map[string]bool{}
	add := func(e int, a string, v any) {
		k := fmt.Sprint(e, a, v)
		if !seen[k] {
			seen[k] = true
			facts = append(facts, [3]any{e, pkw(a), v})
		}
	}
	for e := 1001; e < 1001+n; e++ {
		if rng.IntN(4) > 0 {
			add(e, "m/name", fmt.Sprintf("e%d", e))
		}
		for range rng.IntN(4) {
			add(e, "m/tag", fmt.Sprintf("t%d", rng.IntN(6)))
		}
		if rng.IntN(2) == 0 {
			add(e, "m/n", rng.IntN(100))
		}
		for range rng.IntN(3) {
			add(e, "m/friend", ent())
		}
		if rng.IntN(2) == 0 {
			add(e, "m/best", ent())
		}
		if rng.IntN(3) == 0 {
			add(e, "m/part", ent())
		}
		if rng.IntN(4) == 0 {
			add(e, "m/main", ent())
		}
		if rng.IntN(3) == 0 {
			add(e, "m/kind", 200+rng.IntN(2))
		}
	}
	return newPullSource(pullModelAttrs, map[datom.ID]edn.Keyword{200: "kind/a", 201: "kind/b"}, facts), n
}

var pullModelRefs = []string{"m/friend", "m/best", "m/part", "m/main", "m/kind"}

// pullModelPattern generates a random valid pattern as EDN data.
func pullModelPattern(rng *rand.Rand, depth int) edn.Vector {
	scalar := []string{"m/name", "m/tag", "m/n", "db/id", "db/ident"}
	var pat edn.Vector
	for range 1 + rng.IntN(4) {
		switch r := rng.IntN(10); {
		case r == 0:
			pat = append(pat, edn.Symbol("*"))
		case r <= 3:
			pat = append(pat, pkw(scalar[rng.IntN(len(scalar))]))
		case r <= 5:
			ref := pullModelRefs[rng.IntN(len(pullModelRefs))]
			if rng.IntN(2) == 0 {
				ref = ref[:2] + "_" + ref[2:] // reverse
			}
			pat = append(pat, pullModelOptions(rng, pkw(ref)))
		default:
			ref := pullModelRefs[rng.IntN(len(pullModelRefs))]
			if rng.IntN(3) == 0 {
				ref = ref[:2] + "_" + ref[2:]
			}
			var val any
			switch {
			case depth < 2 && rng.IntN(2) == 0:
				val = pullModelPattern(rng, depth+1)
			case rng.IntN(2) == 0:
				val = edn.Symbol("...")
			default:
				val = int64(1 + rng.IntN(3))
			}
			pat = append(pat, edn.Map{{Key: pullModelOptions(rng, pkw(ref)), Val: val}})
		}
	}
	return pat
}

// pullModelOptions returns attr itself or an attr expression with random
// options, in one of the accepted forms.
func pullModelOptions(rng *rand.Rand, attr edn.Keyword) any {
	switch rng.IntN(6) {
	case 0:
		return edn.Vector{attr, pkw("limit"), int64(1 + rng.IntN(2))}
	case 1:
		return edn.List{edn.Symbol("limit"), attr, nil}
	case 2:
		return edn.Vector{attr, pkw("default"), "none"}
	case 3:
		return edn.List{attr, pkw("as"), pkw(fmt.Sprintf("as/%s-%d", attr.Name(), rng.IntN(1000)))}
	}
	return attr
}

// refPull is the reference: pull semantics written as directly as
// possible, scanning the whole datom list for every lookup.
func refPull(all []datom.Datom, s *datom.Schema, p *PullPattern, e datom.ID, path []datom.ID, depth map[*pullSpec]int) map[edn.Keyword]any {
	path = append(slices.Clip(path), e)
	onPath := func(x datom.ID) bool { return slices.Contains(path, x) }
	res := map[edn.Keyword]any{}
	found, hasID, exists := false, false, false
	var fwdAttrs []datom.ID
	for _, d := range all {
		if d.E == e {
			exists = true
		}
	}
	refMap := func(x datom.ID) map[edn.Keyword]any {
		if kw, ok := s.Ident(x); ok {
			return map[edn.Keyword]any{"db/id": x, "db/ident": kw}
		}
		return map[edn.Keyword]any{"db/id": x}
	}
	nested := func(sub *PullPattern, x datom.ID) any {
		if m := refPull(all, s, sub, x, path, depth); m != nil {
			return m
		}
		return refMap(x)
	}
	wild := &PullPattern{wildcard: true}
	put := func(key edn.Keyword, a *datom.Attribute, spec *pullSpec, reverse, many bool, vals []any) {
		limit := DefaultPullLimit
		if spec != nil && spec.limit != 0 {
			limit = spec.limit
		}
		if !many {
			vals = vals[:1]
		} else if limit > 0 && len(vals) > limit {
			vals = vals[:limit]
		}
		conv := func(v any) any {
			if !a.IsRef() {
				return v
			}
			x := v.(int64)
			switch {
			case spec != nil && spec.sub != nil:
				return nested(spec.sub, x)
			case spec != nil && spec.recurse:
				if onPath(x) {
					return map[edn.Keyword]any{"db/id": x}
				}
				depth[spec]++
				m := nested(p, x)
				depth[spec]--
				return m
			case a.IsComponent && !reverse:
				if onPath(x) {
					return map[edn.Keyword]any{"db/id": x}
				}
				return nested(wild, x)
			}
			return refMap(x)
		}
		if !many {
			res[key] = conv(vals[0])
			return
		}
		out := edn.Vector{}
		for _, v := range vals {
			out = append(out, conv(v))
		}
		res[key] = out
	}
	for _, spec := range p.specs {
		if spec.dbID {
			res[spec.key] = e
			hasID = true
			continue
		}
		a := s.AttrByIdent(spec.attr)
		var vals []any
		many := a.Cardinality == datom.CardinalityMany
		if spec.reverse {
			many = !a.IsComponent
			for _, d := range all {
				if d.A == a.ID && d.V == any(e) {
					vals = append(vals, d.E)
				}
			}
			slices.SortFunc(vals, func(x, y any) int { return int(x.(int64) - y.(int64)) })
		} else {
			fwdAttrs = append(fwdAttrs, a.ID)
			for _, d := range all {
				if d.E == e && d.A == a.ID {
					vals = append(vals, d.V)
				}
			}
		}
		if len(vals) == 0 {
			if spec.hasDef {
				res[spec.key] = spec.def
				found = true
			}
			continue
		}
		if spec.recurse && spec.maxDepth > 0 && depth[spec] >= spec.maxDepth {
			continue
		}
		put(spec.key, a, spec, spec.reverse, many, vals)
		found = true
	}
	if p.wildcard {
		if _, ok := res["db/id"]; !ok {
			res["db/id"] = e
			hasID = true
		}
		var order []datom.ID
		byA := map[datom.ID][]any{}
		for _, d := range all {
			if d.E == e && !slices.Contains(fwdAttrs, d.A) {
				if _, ok := byA[d.A]; !ok {
					order = append(order, d.A)
				}
				byA[d.A] = append(byA[d.A], d.V)
			}
		}
		for _, aid := range order {
			a := s.Attr(aid)
			put(a.Ident, a, nil, false, a.Cardinality == datom.CardinalityMany, byA[aid])
			found = true
		}
	}
	if !found && (!hasID || !exists) {
		return nil
	}
	return res
}
