package query

import (
	"context"
	"fmt"
	"strings"

	"github.com/accretedb/accrete/datom"
)

// Plan is the order and access path the engine chose for a query's :where
// clauses, as Explain reports it.
type Plan struct {
	Steps []PlanStep
}

// PlanStep is one step of a Plan.
type PlanStep struct {
	// Op is what the step does: "scan" (one pass over an index), "lookup"
	// (one index seek per input row), "hash-join" (one scan, then a join
	// on the bound variables), "filter", "function", "not", "or", "rule".
	Op string
	// Clause is the clause as EDN.
	Clause string
	// Index is the index a scan, lookup or hash join reads: "EAVT",
	// "AEVT", "AVET", "VAET", "AVET range", or "tuples" for a collection.
	Index string
	// Estimate is the planner's estimate of the rows the step yields (for
	// a lookup: per input row).
	Estimate int
	// Filters are predicates evaluated inside the scan, including the
	// comparisons an AVET range implements exactly.
	Filters []string
	// Branches are the sub-plans of not (one) and or (one per branch).
	Branches [][]PlanStep
}

// String prints the plan, one step per line, sub-plans indented.
func (p Plan) String() string {
	var b strings.Builder
	writePlan(&b, p.Steps, "")
	return b.String()
}

func writePlan(b *strings.Builder, steps []PlanStep, indent string) {
	for i, s := range steps {
		fmt.Fprintf(b, "%s%d. %s %s", indent, i+1, s.Op, s.Clause)
		if s.Index != "" {
			fmt.Fprintf(b, " via %s", s.Index)
		}
		if s.Op == "scan" || s.Op == "lookup" || s.Op == "hash-join" {
			fmt.Fprintf(b, " ~%d", s.Estimate)
		}
		for _, f := range s.Filters {
			fmt.Fprintf(b, " where %s", f)
		}
		b.WriteString("\n")
		for j, br := range s.Branches {
			fmt.Fprintf(b, "%s   branch %d:\n", indent, j+1)
			writePlan(b, br, indent+"     ")
		}
	}
}

// Explain plans q for inputs, exactly as Q would, and returns the plan
// without evaluating it. It may read the sources' statistics (Counter)
// and resolve idents and lookup refs.
func Explain(ctx context.Context, q any, inputs ...any) (Plan, error) {
	return ExplainWith(ctx, Options{}, q, inputs...)
}

// ExplainWith is Explain with options.
func ExplainWith(ctx context.Context, opts Options, q any, inputs ...any) (Plan, error) {
	pq, err := Parse(q)
	if err != nil {
		return Plan{}, err
	}
	ex := newExec(ctx, opts)
	start, sc, err := ex.bindInputs(pq, inputs)
	if err != nil {
		return Plan{}, err
	}
	bound0 := boundOf(pq, start, sc)
	steps, err := ex.plan(pq.where, sc, bound0)
	if err != nil {
		return Plan{}, err
	}
	markLive(steps, bound0, pq.needed(), singleValued(pq, sc.width()))
	return Plan{Steps: describe(steps)}, nil
}

var indexNames = [...]string{datom.EAVT: "EAVT", datom.AEVT: "AEVT", datom.AVET: "AVET", datom.VAET: "VAET", datom.TEAV: "TEAV"}

func describe(steps []*step) []PlanStep {
	out := make([]PlanStep, 0, len(steps))
	for _, st := range steps {
		ps := PlanStep{Clause: qString(st.c.raw()), Estimate: st.est}
		switch st.kind {
		case stepPattern:
			ps.Op = "scan"
			switch {
			case st.lookup:
				ps.Op = "lookup"
			case st.hash:
				ps.Op = "hash-join"
			}
			ps.Index = patternIndex(st)
			for _, c := range st.absorbed {
				ps.Filters = append(ps.Filters, qString(c.raw()))
			}
			for _, f := range st.filters {
				ps.Filters = append(ps.Filters, qString(f.c.raw()))
			}
		case stepPred:
			ps.Op = "filter"
		case stepFn:
			ps.Op = "function"
		case stepNot:
			ps.Op = "not"
		case stepOr:
			ps.Op = "or"
		case stepRule:
			ps.Op = "rule"
		}
		for _, sub := range st.sub {
			ps.Branches = append(ps.Branches, describe(sub))
		}
		out = append(out, ps)
	}
	return out
}

func patternIndex(st *step) string {
	if _, ok := st.src.(*collSrc); ok {
		return "tuples"
	}
	if st.empty {
		return "none (a constant does not resolve)"
	}
	if st.hasRange {
		return "AVET range"
	}
	known := func(i int) any {
		switch st.pos[i].kind {
		case posConst:
			return st.pos[i].val
		case posBound:
			if st.lookup {
				return true // a placeholder: known per row
			}
		}
		return nil
	}
	idx, _, _ := access(known(0), known(1), known(2), st.attr, make([]any, 0, 3))
	return indexNames[idx]
}
