package query

import (
	"context"
	"math"
	"testing"
)

// TestDoubleEquality pins how doubles compare. Joins and patterns tell them
// apart as the indices do (Java's Double.compare: -0.0 is not +0.0, every
// NaN is the same value), whichever way the plan unifies a variable: by a
// hash probe (two collections joined on ?x) or by comparing in place (the
// tuple input binds ?x twice). The = predicate is Clojure's: 0.0 equals
// -0.0 and NaN equals nothing.
func TestDoubleEquality(t *testing.T) {
	ctx := context.Background()
	negZero := math.Copysign(0, -1)
	nan1 := math.NaN()
	nan2 := math.Float64frombits(0x7FF8000000000001) // another NaN payload

	count := func(q string, in ...any) int {
		t.Helper()
		res, err := Q(ctx, q, in...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return len(res.(Relation))
	}
	join := `[:find ?a ?b :in [[?a ?x]] [[?b ?x]]]`
	for _, c := range []struct {
		name string
		x, y float64
		want int
	}{
		{"-0.0 and +0.0", negZero, 0, 0},
		{"+0.0 and +0.0", 0, 0, 1},
		{"two NaN payloads", nan1, nan2, 1},
		{"NaN and 1.0", nan1, 1, 0},
	} {
		rel := func(tag string, v float64) []any { return []any{[]any{tag, v}} }
		if got := count(join, rel("a", c.x), rel("b", c.y)); got != c.want {
			t.Errorf("hash join of %s: %d rows, want %d", c.name, got, c.want)
		}
		unify := `[:find ?x :in [?x ?x]]`
		if got := count(unify, []any{c.x, c.y}); got != c.want {
			t.Errorf("unification of %s in a tuple: %d rows, want %d", c.name, got, c.want)
		}
	}

	eq := `[:find ?x :in [?x ?y] :where [(= ?x ?y)]]`
	if got := count(eq, []any{negZero, 0.0}); got != 1 {
		t.Errorf("(= -0.0 0.0) kept %d rows, want 1 (Clojure's =)", got)
	}
	if got := count(eq, []any{nan1, nan1}); got != 0 {
		t.Errorf("(= NaN NaN) kept %d rows, want 0 (Clojure's =)", got)
	}
	neq := `[:find ?x :in [?x ?y] :where [(not= ?x ?y)]]`
	if got := count(neq, []any{nan1, nan1}); got != 1 {
		t.Errorf("(not= NaN NaN) kept %d rows, want 1", got)
	}
}

// TestRepeatedInputVariable: a variable named twice in one :in binding
// unifies, as it does across two bindings (:in ?x ?x).
func TestRepeatedInputVariable(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		q    string
		in   any
		want int
	}{
		{`[:find ?x :in [?x ?x]]`, []any{int64(1), int64(2)}, 0},
		{`[:find ?x :in [?x ?x]]`, []any{int64(1), int64(1)}, 1},
		{`[:find ?x ?y :in [[?x ?y ?x]]]`, []any{[]any{int64(1), "a", int64(1)}, []any{int64(1), "b", int64(2)}, []any{int64(3), "c", int64(3)}}, 2},
	} {
		res, err := Q(ctx, c.q, c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		if got := len(res.(Relation)); got != c.want {
			t.Errorf("%s on %v: %d rows, want %d", c.q, c.in, got, c.want)
		}
	}
}
