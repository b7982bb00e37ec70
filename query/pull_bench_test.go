package query_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

// BenchmarkPullDS runs DataScript's five pull benches (cmd/accrete-bench's
// pull-one, pull-many, pull-wildcard, pull-one-entities and
// pull-many-entities) over a *reader.DB of wide-4x5, stored (reopened from
// a mem:// bucket, reads through the node cache) and built with DB.With
// (in-memory trees, as cmd/accrete-bench's mem backend). Each checks once
// that it reached all 781 entities of the tree.
func BenchmarkPullDS(b *testing.B) {
	b.Run("stored", func(b *testing.B) { benchPullDS(b, openBenchDB) })
	b.Run("with", func(b *testing.B) { benchPullDS(b, withBenchDB) })
}

func benchPullDS(b *testing.B, open func(*testing.B, string) *reader.DB) {
	ctx := context.Background()
	tree := open(b, "wide-4x5")
	root := rootOf(b, tree)
	for _, bp := range []struct{ name, pattern string }{
		{"pull-one", `[:name {:follows ...}]`},
		{"pull-many", `[:db/id :last-name :alias :sex :age :salary {:follows ...}]`},
		{"pull-wildcard", `[* {:follows ...}]`},
	} {
		p := query.MustParsePull(bp.pattern)
		b.Run(bp.name, func(b *testing.B) {
			m, err := p.Pull(ctx, tree, root)
			if err != nil {
				b.Fatal(err)
			}
			if n := countPulled(m); n != 781 {
				b.Fatalf("pulled %d entities, want 781", n)
			}
			b.ReportAllocs()
			cpu := query.StartCPU(b)
			for b.Loop() {
				if _, err := p.Pull(ctx, tree, root); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		// The same pull with PullOrdered: edn.Maps rather than Go maps.
		b.Run(bp.name+"-ordered", func(b *testing.B) {
			m, err := p.PullOrdered(ctx, tree, root)
			if err != nil {
				b.Fatal(err)
			}
			if n := countPulledOrdered(m); n != 781 {
				b.Fatalf("pulled %d entities, want 781", n)
			}
			b.ReportAllocs()
			cpu := query.StartCPU(b)
			for b.Loop() {
				if _, err := p.PullOrdered(ctx, tree, root); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
	}
	for _, be := range []struct {
		name string
		keys []edn.Keyword
	}{
		{"pull-one-entities", []edn.Keyword{"name"}},
		{"pull-many-entities", []edn.Keyword{"db/id", "last-name", "alias", "sex", "age", "salary"}},
	} {
		b.Run(be.name, func(b *testing.B) {
			walk := func() (map[edn.Keyword]any, error) {
				en, err := query.EntityOf(ctx, tree, edn.Vector{edn.Keyword("id"), int64(1)})
				if err != nil {
					return nil, err
				}
				return entityWalk(ctx, en, be.keys)
			}
			m, err := walk()
			if err != nil {
				b.Fatal(err)
			}
			if n := countWalked(m); n != 781 {
				b.Fatalf("walked %d entities, want 781", n)
			}
			b.ReportAllocs()
			cpu := query.StartCPU(b)
			for b.Loop() {
				if _, err := walk(); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		// The walk's own maps and slices over values read beforehand:
		// the floor no change to Entity can go below.
		b.Run(be.name+"-maps", func(b *testing.B) {
			en, err := query.EntityOf(ctx, tree, edn.Vector{edn.Keyword("id"), int64(1)})
			if err != nil {
				b.Fatal(err)
			}
			m, err := entityWalk(ctx, en, be.keys)
			if err != nil {
				b.Fatal(err)
			}
			t := plainOf(m, be.keys)
			b.ReportAllocs()
			cpu := query.StartCPU(b)
			for b.Loop() {
				plainWalk(t, be.keys)
			}
			cpu.Report(b)
		})
	}
}

// plainNode is an entity walked beforehand: its values for the walk's
// keys, and its :follows.
type plainNode struct {
	vals []any
	kids []any // *plainNode, as the edn.Set Get returns holds *Entity
}

func plainOf(m map[edn.Keyword]any, keys []edn.Keyword) *plainNode {
	n := &plainNode{}
	for _, k := range keys {
		n.vals = append(n.vals, m[k])
	}
	for _, f := range m["follows"].([]any) {
		n.kids = append(n.kids, plainOf(f.(map[edn.Keyword]any), keys))
	}
	return n
}

// plainWalk builds what entityWalk builds, from a plainNode.
func plainWalk(n *plainNode, keys []edn.Keyword) map[edn.Keyword]any {
	o := make(map[edn.Keyword]any, len(keys)+1)
	for i, k := range keys {
		if v := n.vals[i]; v != nil {
			o[k] = v
		}
	}
	fs := make([]any, 0, len(n.kids))
	for _, c := range n.kids {
		fs = append(fs, plainWalk(c.(*plainNode), keys))
	}
	o["follows"] = fs
	return o
}

// entityWalk is bench.js's f for the entity benches (as cmd/accrete-bench
// runs it): the keys of en, and :follows walked recursively.
func entityWalk(ctx context.Context, en *query.Entity, keys []edn.Keyword) (map[edn.Keyword]any, error) {
	o := make(map[edn.Keyword]any, len(keys)+1)
	for _, k := range keys {
		v, err := en.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if v != nil {
			o[k] = v
		}
	}
	fv, err := en.Get(ctx, "follows")
	if err != nil {
		return nil, err
	}
	set, _ := fv.(edn.Set)
	fs := make([]any, 0, len(set))
	for _, c := range set {
		ce, ok := c.(*query.Entity)
		if !ok {
			return nil, fmt.Errorf(":follows value %T is not an entity", c)
		}
		m, err := entityWalk(ctx, ce, keys)
		if err != nil {
			return nil, err
		}
		fs = append(fs, m)
	}
	o["follows"] = fs
	return o, nil
}

func countWalked(m map[edn.Keyword]any) int {
	n := 1
	for _, f := range m["follows"].([]any) {
		n += countWalked(f.(map[edn.Keyword]any))
	}
	return n
}

func countPulledOrdered(m edn.Map) int {
	n := 1
	if v, _ := m.Get(edn.Keyword("follows")); v != nil {
		for _, f := range v.(edn.Vector) {
			n += countPulledOrdered(f.(edn.Map))
		}
	}
	return n
}
