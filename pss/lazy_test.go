package pss

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestAddLazilyModel runs random version graphs: each step forks a random
// earlier version (not only the newest) and derives a new one by Update or
// AddLazily, and sometimes reads a random version. Every version, read
// early, late or never until the end, must equal its model, and reading one
// must not change another.
func TestAddLazilyModel(t *testing.T) {
	seed := testSeed(t)
	for _, width := range []int{4, 7, 32} {
		t.Run(fmt.Sprintf("width=%d", width), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(width)))
			ctx := context.Background()
			const keySpace = 3000
			s0, err := New(intOpts(width, nil))
			if err != nil {
				t.Fatal(err)
			}
			type version struct {
				s Set[int64]
				m model
			}
			vs := []version{{s0, nil}}
			for step := range 1500 {
				// Mostly extend a recent version (chains), sometimes fork an
				// old one.
				pi := len(vs) - 1 - r.IntN(min(len(vs), 3))
				if r.IntN(8) == 0 {
					pi = r.IntN(len(vs))
				}
				p := vs[pi]
				var adds, removes []int64
				n := 1 + r.IntN(6)
				if r.IntN(100) == 0 {
					n = MaxPending/2 + r.IntN(MaxPending) // cross the pending bound
				}
				for range n {
					adds = append(adds, r.Int64N(keySpace))
				}
				if r.IntN(3) == 0 {
					adds = adds[:r.IntN(len(adds))] // sometimes none
				}
				var ns Set[int64]
				if k := r.IntN(6); k < 3 {
					for range r.IntN(8) {
						if len(p.m) > 0 && r.IntN(3) > 0 {
							removes = append(removes, p.m[r.IntN(len(p.m))])
						} else {
							removes = append(removes, r.Int64N(keySpace))
						}
					}
					if k == 0 {
						ns, err = p.s.Update(ctx, adds, removes)
					} else {
						ns, err = p.s.UpdateLazily(ctx, adds, removes)
					}
				} else {
					ns, err = p.s.AddLazily(ctx, adds)
				}
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				vs = append(vs, version{ns, p.m.update(adds, removes)})
				if r.IntN(10) == 0 {
					v := vs[r.IntN(len(vs))]
					compareSet(t, r, v.s, v.m, keySpace, fmt.Sprintf("step %d: a version read early", step))
				}
			}
			for _, i := range r.Perm(len(vs)) {
				v := vs[i]
				mustCheck(t, v.s)
				compareSet(t, r, v.s, v.m, keySpace, fmt.Sprintf("version %d", i))
			}
		})
	}
}

// pair is a key whose comparator looks at k only: tag tells equal keys
// apart, to see which of several equal adds a set keeps.
type pair struct{ k, tag int64 }

func pairOpts(width int) Options[pair] {
	return Options[pair]{Compare: func(a, b pair) int { return cmp.Compare(a.k, b.k) }, Width: width}
}

// TestAddLazilyFirstWins: for equal keys a chain built at once keeps what
// successive Updates keep (the stored key, or else the earliest add since
// the last remove), removes and replacements included.
func TestAddLazilyFirstWins(t *testing.T) {
	// Keyed: a coarse sort key (many keys share one pair, so runs of equal
	// pairs are ordered by the comparator) must not change which key wins.
	coarse := func(p pair) (uint64, uint64, bool) { return uint64(p.k/16) ^ 1<<63, 0, p.k%50 != 49 || p.tag%7 != 0 }
	for _, key := range []SortKey[pair]{nil, coarse} {
		t.Run(fmt.Sprintf("keyed=%v", key != nil), func(t *testing.T) { testFirstWins(t, key) })
	}
}

func testFirstWins(t *testing.T, key SortKey[pair]) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(testSeed(t), 1))
	eager, err := New(pairOpts(4))
	if err != nil {
		t.Fatal(err)
	}
	lazy := eager
	for step := range 300 {
		var adds, removes []pair
		for range 1 + r.IntN(5) {
			adds = append(adds, pair{r.Int64N(200), int64(step)})
		}
		if r.IntN(3) == 0 {
			for range r.IntN(4) {
				removes = append(removes, pair{r.Int64N(200), -1})
			}
			if r.IntN(2) == 0 && len(adds) > 0 {
				removes = append(removes, adds[0]) // replace a key within one batch
			}
		}
		if eager, err = eager.Update(ctx, adds, removes); err != nil {
			t.Fatal(err)
		}
		if lazy, err = lazy.UpdateLazilyKeyed(ctx, adds, removes, key); err != nil {
			t.Fatal(err)
		}
		if r.IntN(40) == 0 {
			if got, want := lazy.Len(), eager.Len(); got != want { // build mid-chain
				t.Fatalf("step %d: Len %d, want %d", step, got, want)
			}
		}
	}
	want, err := eager.Slice(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lazy.Slice(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lazy chain kept\n%v\nsuccessive updates kept\n%v", got, want)
	}
	mustCheck(t, lazy)
}

// TestAddLazilyConcurrent reads the versions of one chain from many
// goroutines at once (run with -race): each is built once, by whichever
// reader comes first, and all see the same keys.
func TestAddLazilyConcurrent(t *testing.T) {
	ctx := context.Background()
	s, err := New(intOpts(8, nil))
	if err != nil {
		t.Fatal(err)
	}
	var vs []Set[int64]
	var ms []model
	var m model
	for i := range 400 {
		adds := []int64{int64(i * 7 % 1001), int64(i * 13 % 1001)}
		if s, err = s.AddLazily(ctx, adds); err != nil {
			t.Fatal(err)
		}
		m = m.update(adds, nil)
		vs, ms = append(vs, s), append(ms, m)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range vs {
				i := (j*(g+3) + g*37) % len(vs)
				got, err := vs[i].Slice(ctx, nil, nil)
				if err == nil && !equalKeys(got, ms[i]) && len(ms[i]) > 0 {
					err = fmt.Errorf("version %d: got %d keys, want %d", i, len(got), len(ms[i]))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestAddLazilyWithStore: a set with a store is updated at once.
func TestAddLazilyWithStore(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](intOpts(4, nil).Codec)
	s, err := New(intOpts(4, store))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := s.AddLazily(ctx, seq(0, 50))
	if err != nil {
		t.Fatal(err)
	}
	if ns.root == nil || ns.root.lazy != nil {
		t.Fatal("a set with a store got a lazy root")
	}
	if !equalKeys(collect(t, ns), seq(0, 50)) {
		t.Fatal("wrong keys")
	}
	if _, _, err := ns.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSortKeyed: sorting through a sort key, coarse (many ties, ordered by
// the comparator), exact, or failing for some keys, gives the comparator's
// order.
func TestSortKeyed(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 9))
	keys := map[string]SortKey[int64]{
		"nil":    nil,
		"exact":  func(k int64) (uint64, uint64, bool) { return uint64(k) ^ 1<<63, 0, true },
		"coarse": func(k int64) (uint64, uint64, bool) { return 7, uint64(k>>5) ^ 1<<63, true },
		"fails":  func(k int64) (uint64, uint64, bool) { return uint64(k) ^ 1<<63, 0, k != 3 },
	}
	for name, key := range keys {
		for _, n := range []int{0, 1, 63, 64, 1000} {
			xs := make([]int64, n)
			for i := range xs {
				xs[i] = r.Int64N(400) - 200
			}
			want := slices.Sorted(slices.Values(xs))
			if got := SortKeyed(slices.Clone(xs), cmp.Compare[int64], key); !slices.Equal(got, want) {
				t.Fatalf("%s, n=%d: got %v, want %v", name, n, got, want)
			}
		}
	}
}

// TestUpdateLazilyExtendRace: goroutines extend one unbuilt lazy version
// at once (each result may take the shared buffer's free space, or must
// copy); every result holds the version's keys and its own, nothing else.
func TestUpdateLazilyExtendRace(t *testing.T) {
	ctx := context.Background()
	s, err := New(intOpts(8, nil))
	if err != nil {
		t.Fatal(err)
	}
	for k := range int64(20) {
		if s, err = s.AddLazily(ctx, []int64{k}); err != nil {
			t.Fatal(err)
		}
	}
	const n = 16
	res := make([]Set[int64], n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := s
			for j := range int64(5) {
				var err error
				if x, err = x.AddLazily(ctx, []int64{1000 + int64(g)*10 + j}); err != nil {
					t.Error(err)
					return
				}
			}
			res[g] = x
		}()
	}
	wg.Wait()
	for g, x := range res {
		got, err := x.Slice(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for k := range int64(20) {
			want = append(want, k)
		}
		for j := range int64(5) {
			want = append(want, 1000+int64(g)*10+j)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("goroutine %d: got %v, want %v", g, got, want)
		}
	}
	if got := s.Len(); got != 20 {
		t.Fatalf("the shared version has %d keys, want 20", got)
	}
}
