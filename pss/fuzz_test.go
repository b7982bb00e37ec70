package pss

import (
	"context"
	"slices"
	"testing"

	"github.com/accretedb/accrete/node"
)

// FuzzUpdate interprets bytes as batches of adds and removes on a width-4
// set (so a few dozen keys already make three levels), flushing now and
// then, and compares every version with the model and the invariants
// (with fences for inputs of odd length).
// Byte b: bits 0-5 key, bit 6 add (else remove), bit 7 ends the batch;
// a zero byte flushes and reopens.
func FuzzUpdate(f *testing.F) {
	f.Add([]byte{0x40, 0x41, 0x42, 0x43, 0x44, 0xc5, 0x01, 0x82, 0x00, 0x46})
	f.Add(slices.Repeat([]byte{0x47, 0x4f, 0x53, 0x5d, 0xe1}, 8))
	asc := make([]byte, 0, 128)
	for k := range 64 {
		asc = append(asc, 0x40|byte(k))
	}
	asc = append(asc, 0x80)
	for k := range 64 {
		asc = append(asc, byte(k))
	}
	f.Add(asc)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		store := NewMemStore[int64](node.Int64Codec{})
		opts := intOpts(4, store)
		if len(data)%2 == 1 {
			// Odd inputs cut leaves between groups of eight keys and
			// record fences, which Check verifies (T7).
			opts.Fence = groupKey
		}
		s, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		var m model
		var adds, removes []int64
		apply := func() {
			ns, err := s.Update(ctx, adds, removes)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			m = m.update(adds, removes)
			adds, removes = adds[:0], removes[:0]
			if err := ns.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := collect(t, ns); !slices.Equal(got, []int64(m)) && len(got)+len(m) > 0 {
				t.Fatalf("contents: got %v, want %v", got, m)
			}
			if opts.Fence != nil {
				// Each group's keys, by a scan that its fences may end
				// (IterOptions.Past) as soon as a leaf starts past it.
				for g := int64(0); g < 8; g++ {
					hf := ns.cfg.keyFence(8*g + 7)
					it := ns.NewIter(ctx, &IterOptions[int64]{Past: func(f node.Fence) bool {
						return f.Hi > hf.Hi || (f.Hi == hf.Hi && f.Lo > hf.Lo)
					}})
					var got []int64
					for ok := it.SeekGE(8 * g); ok && it.Key() <= 8*g+7; ok = it.Next() {
						got = append(got, it.Key())
					}
					if err := it.Close(); err != nil {
						t.Fatalf("group %d scan: %v", g, err)
					}
					if want := m.rangeOf(ptrTo(8*g), ptrTo(8*g+8)); !slices.Equal(got, want) && len(got)+len(want) > 0 {
						t.Fatalf("group %d scan with Past: got %v, want %v", g, got, want)
					}
				}
			}
			s = ns
		}
		for _, b := range data {
			if b == 0 {
				apply()
				root, _, err := s.Flush(ctx)
				if err != nil {
					t.Fatalf("Flush: %v", err)
				}
				if s, err = Open(ctx, root, opts); err != nil {
					t.Fatalf("Open: %v", err)
				}
				continue
			}
			k := int64(b & 0x3f)
			if b&0x40 != 0 {
				adds = append(adds, k)
			} else {
				removes = append(removes, k)
			}
			if b&0x80 != 0 {
				apply()
			}
		}
		apply()
	})
}
