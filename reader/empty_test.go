package reader

import (
	"context"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/pss"
)

// TestScanEmptyTree: scanning a tree that is empty and has no overlay
// yields nothing (and does not touch a missing iterator).
func TestScanEmptyTree(t *testing.T) {
	ctx := context.Background()
	db, err := NewEmpty(ctx, nil, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pss.New(treeOptions(nil, histEAVT, 0))
	if err != nil {
		t.Fatal(err)
	}
	db.trees[histEAVT] = newLoadedTree(s)
	lo, hi := bounds(datom.EAVT, nil)
	n := 0
	if err := db.scanTree(ctx, histEAVT, lo, hi, func(datom.Datom) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("scan of an empty tree: %d datoms, %v; want 0, nil", n, err)
	}
}
