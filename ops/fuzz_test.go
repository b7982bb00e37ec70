package ops

import (
	"context"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/node"
)

// FuzzChildren feeds arbitrary bytes to the node header reader and child
// extraction used by GC, Sync and Verify: they must fail cleanly, never
// panic, and agree with node.Decode about the level and children.
func FuzzChildren(f *testing.F) {
	st := openStore(f, scratchURL(f))
	buildDB(f, st, 12)
	// Seeds: stored nodes of every kind (tree leaves and branches of each
	// index, tails, commits).
	k := 0
	for h := range nodeSet(f, st) {
		if k++; k > 40 {
			break
		}
		data, err := st.GetNode(context.Background(), h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{node.FormatVersion})
	f.Add([]byte{node.FormatVersion, 0xa1, 'x', 0x00, 0x90})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, full := range []bool{false, true} {
			level, kids, err := children(data, full)
			if err != nil {
				continue
			}
			id, _, _ := header(data)
			nd, derr := node.Decode[datom.Datom](data, codecs[id])
			if derr != nil {
				if full || level > 0 {
					t.Fatalf("children accepted a node Decode refuses: %v", derr)
				}
				continue
			}
			if nd.Level != level || (level > 0 && len(kids) != len(nd.Children)) {
				t.Fatalf("children: level %d, %d kids; Decode: level %d, %d children", level, len(kids), nd.Level, len(nd.Children))
			}
		}
	})
}
