package main

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// timing is bench.js's timing scheme (DataScript's bench.cljc with batch
// 1): run the op for warmup, then samples of at least sample each; each
// sample is the mean time per op over its iterations (at least one).
type timing struct {
	warmup, sample time.Duration
	samples        int
}

// stats is one bench's measurement, in milliseconds per op.
type stats struct {
	median, min, max float64
	samples          []float64
	iters            int
}

// dotime runs op repeatedly for at least d (at least once) and returns the
// mean milliseconds per run and the number of runs. It stops at the first
// error.
func dotime(d time.Duration, op func() error) (ms float64, iters int, err error) {
	start := time.Now()
	var el time.Duration
	for {
		if err := op(); err != nil {
			return 0, iters, err
		}
		iters++
		if el = time.Since(start); el >= d {
			break
		}
	}
	return float64(el) / float64(time.Millisecond) / float64(iters), iters, nil
}

// run measures op: warmup, then the samples; iters counts only the sampled
// runs, as bench.js does.
func (tm timing) run(op func() error) (stats, error) {
	if _, _, err := dotime(tm.warmup, op); err != nil {
		return stats{}, err
	}
	var st stats
	for range tm.samples {
		ms, n, err := dotime(tm.sample, op)
		if err != nil {
			return stats{}, err
		}
		st.samples = append(st.samples, ms)
		st.iters += n
	}
	st.median = median(st.samples)
	st.min, st.max = slices.Min(st.samples), slices.Max(st.samples)
	return st, nil
}

// median is bench.js's: the element at index floor(n/2) of the sorted
// samples (the upper median for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// prec5 is JavaScript's +x.toPrecision(5): x rounded to 5 significant
// digits, printed by JSON as its shortest form.
func prec5(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 5, 64), 64)
	return r
}
