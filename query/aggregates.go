package query

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/accretedb/accrete/edn"
)

// aggregate computes one built-in aggregate over a group's values.
type aggregate func(consts []any, vals []any) (any, error)

// aggregates is the table of Datomic's built-in aggregates. Never modified
// after init.
var aggregates = map[edn.Symbol]aggregate{
	"count": noConsts(func(v []any) (any, error) { return int64(len(v)), nil }),
	"count-distinct": noConsts(func(v []any) (any, error) {
		return int64(len(distinctValues(v))), nil
	}),
	"sum": noConsts(func(v []any) (any, error) {
		var acc any = int64(0)
		for _, x := range v {
			var err error
			if acc, err = arith2('+', acc, x); err != nil {
				return nil, err
			}
		}
		return acc, nil
	}),
	"avg": noConsts(func(v []any) (any, error) {
		if len(v) == 0 {
			return nil, nil
		}
		s, err := floats(v)
		if err != nil {
			return nil, err
		}
		return mean(s), nil
	}),
	"median": noConsts(func(v []any) (any, error) {
		if len(v) == 0 {
			return nil, nil
		}
		s := slices.Clone(v)
		slices.SortFunc(s, compareValues)
		if len(s)%2 == 1 {
			return s[len(s)/2], nil
		}
		a, ok1 := toFloat(s[len(s)/2-1])
		b, ok2 := toFloat(s[len(s)/2])
		if !ok1 || !ok2 {
			return nil, errNotNumber
		}
		return (a + b) / 2, nil
	}),
	"variance": noConsts(func(v []any) (any, error) {
		if len(v) == 0 {
			return nil, nil
		}
		s, err := floats(v)
		if err != nil {
			return nil, err
		}
		return variance(s), nil
	}),
	"stddev": noConsts(func(v []any) (any, error) {
		if len(v) == 0 {
			return nil, nil
		}
		s, err := floats(v)
		if err != nil {
			return nil, err
		}
		return math.Sqrt(variance(s)), nil
	}),
	"min":      extremeAgg(-1),
	"max":      extremeAgg(1),
	"distinct": noConsts(func(v []any) (any, error) { return edn.Set(distinctValues(v)), nil }),
	"rand": func(c []any, v []any) (any, error) {
		if len(v) == 0 {
			return nil, nil
		}
		if len(c) == 0 {
			return v[rand.IntN(len(v))], nil
		}
		n, err := countArg(c)
		if err != nil {
			return nil, err
		}
		out := make(edn.Vector, n)
		for i := range out {
			out[i] = v[rand.IntN(len(v))]
		}
		return out, nil
	},
	"sample": func(c []any, v []any) (any, error) {
		n, err := countArg(c)
		if err != nil {
			return nil, err
		}
		d := distinctValues(v)
		rand.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
		if n < len(d) {
			d = d[:n]
		}
		return edn.Vector(d), nil
	},
}

func noConsts(f func([]any) (any, error)) aggregate {
	return func(c []any, v []any) (any, error) {
		if len(c) != 0 {
			return nil, fmt.Errorf("%w: takes only a variable", ErrArity)
		}
		return f(v)
	}
}

func countArg(c []any) (int, error) {
	if len(c) != 1 {
		return 0, fmt.Errorf("%w: takes a count and a variable", ErrArity)
	}
	n, ok := c[0].(int64)
	if !ok || n < 0 {
		return 0, errors.New("the count must be a non-negative integer")
	}
	return int(n), nil
}

// extremeAgg is min/max, and (min n ?x)/(max n ?x): the n smallest values
// ascending, or the n largest descending.
func extremeAgg(sign int) aggregate {
	return func(c []any, v []any) (any, error) {
		if len(c) == 0 {
			if len(v) == 0 {
				return nil, nil
			}
			best := v[0]
			for _, x := range v[1:] {
				if compareValues(x, best)*sign > 0 {
					best = x
				}
			}
			return best, nil
		}
		n, err := countArg(c)
		if err != nil {
			return nil, err
		}
		s := slices.Clone(v) // a bag: with :with, equal values count separately
		slices.SortFunc(s, func(a, b any) int { return -sign * compareValues(a, b) })
		if n < len(s) {
			s = s[:n]
		}
		return edn.Vector(s), nil
	}
}

func distinctValues(v []any) []any {
	seen := make(map[string]struct{}, len(v))
	out := make([]any, 0, len(v))
	var buf []byte
	for _, x := range v {
		buf = appendKey(buf[:0], x)
		if _, ok := seen[string(buf)]; ok {
			continue
		}
		seen[string(buf)] = struct{}{}
		out = append(out, x)
	}
	return out
}

func floats(v []any) ([]float64, error) {
	out := make([]float64, len(v))
	for i, x := range v {
		f, ok := toFloat(x)
		if !ok {
			return nil, errNotNumber
		}
		out[i] = f
	}
	return out, nil
}

func mean(s []float64) float64 {
	var t float64
	for _, x := range s {
		t += x
	}
	return t / float64(len(s))
}

// variance is the population variance, as DataScript computes it.
func variance(s []float64) float64 {
	m := mean(s)
	var t float64
	for _, x := range s {
		t += (x - m) * (x - m)
	}
	return t / float64(len(s))
}
