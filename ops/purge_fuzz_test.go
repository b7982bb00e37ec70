package ops

import (
	"errors"
	"testing"
)

// FuzzParsePurge: ParsePurge never panics; it either returns at least one
// operation, each a purge operation of the right shape, or an error
// wrapping ErrInvalidPurge.
func FuzzParsePurge(f *testing.F) {
	for _, s := range []string{
		`[[:db/purge 17 :u/name "x"]]`,
		`[[:db.purge/attribute [:u/email "a@b"] :u/name]]`,
		`[[:db.purge/entity :some/ident] [:db.purge/entity 5]]`,
		`[[:db.history.purge/before #inst "2024-01-01T00:00:00Z"]]`,
		`[[:db/add 1 :a 2]]`, `[]`, `{}`, `[[]]`, `[[:db/purge]]`, `(`, `[[:db/purge 1 :a nil]]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ops, err := ParsePurge(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPurge) {
				t.Fatalf("ParsePurge(%q): %v does not wrap ErrInvalidPurge", s, err)
			}
			return
		}
		if len(ops) == 0 {
			t.Fatalf("ParsePurge(%q): no operations and no error", s)
		}
		for i, op := range ops {
			if !IsPurgeOp(op.Op) || op.Index != i {
				t.Fatalf("ParsePurge(%q): op %d = %+v", s, i, op)
			}
			switch op.Op {
			case OpPurgeHistoryBefore:
				if op.Before.IsZero() && op.E != nil {
					t.Fatalf("ParsePurge(%q): before op %+v", s, op)
				}
			case OpPurge:
				if op.E == nil || op.A == nil || op.V == nil {
					t.Fatalf("ParsePurge(%q): purge op %+v misses a part", s, op)
				}
			}
		}
	})
}
