package query

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/accretedb/accrete/datom"
)

// A scan that reads a whole attribute to keep the datoms of one value
// ([?e :person/name "Ivan"] without AVET) spends its time in the filter
// loop, one datom after another, while the other cores wait. Such a scan
// is cut into parts (SplitChunkSource). The query's goroutine takes them
// from the front and emits as it goes; helpers take them from the back
// and keep their matches, which the query's goroutine emits when it meets
// them, so the rows come out in the order of a single scan.
//
// Waking an idle core takes about 25 µs here (a goroutine's first run on
// a parked P), a third of a 20,000-datom scan: a helper that starts late
// finds fewer parts left, one that finds none costs nothing, and the
// query's goroutine waits only for parts a helper has taken.

// minScanPart is the fewest datoms per part of a scan filtered in
// parallel, and minParallelScan the fewest datoms a scan so filtered
// reads (variables for tests). A part is a few microseconds of filtering,
// so that a helper that wakes late still finds parts left. Below 65,536
// datoms it does not pay here: on this project's 2-vCPU machines
// BenchmarkParallelScan gained 12-26% from 200,000 datoms on, and on
// BenchmarkReads' 20,000-datom scans (about 70 µs) the helper's wake-up
// ate the gain and more.
var minScanPart, minParallelScan = 2048, 1 << 16

// maxScanParts bounds the parts of one scan.
const maxScanParts = 8

// scanCores is the number of cores a scan may use (a variable for tests).
var scanCores = func() int { return runtime.GOMAXPROCS(0) }

// parallelScans counts the scans filtered in parallel (for tests).
var parallelScans atomic.Int64

// splitScan returns the parts to filter st's scan in, or none when it is
// not worth it: a scan that keeps every datom it reads (no filter), one
// estimated small, a source that cannot split, or a single core.
func (ex *exec) splitScan(src *dbSrc, st *step, vf *vfilter, idx datom.Index, comps []any) ([]func(func([]datom.Datom) bool) error, error) {
	if vf.kind == vfNone || st.scanLen < minParallelScan {
		return nil, nil
	}
	ss, ok := src.s.(SplitChunkSource)
	if !ok {
		return nil, nil
	}
	if scanCores() < 2 {
		return nil, nil
	}
	n := min(maxScanParts, st.scanLen/minScanPart)
	if n < 2 {
		return nil, nil
	}
	return ss.SplitDatomChunks(ex.ctx, idx, comps, n)
}

// filterParallel runs parts: this goroutine takes them from the front
// through chunk, helpers from the back through vf into buffers, whose
// datoms are visited in order once this goroutine reaches them. It stops
// the helpers when chunk or visit stops.
func filterParallel(parts []func(func([]datom.Datom) bool) error, helpers int, vf *vfilter, chunk func([]datom.Datom) bool, visit func(*datom.Datom) bool) error {
	parallelScans.Add(1)
	n := len(parts)
	claimed := make([]atomic.Bool, n)
	kept := make([]*[]datom.Datom, n)
	errs := make([]error, n)
	done := make(chan struct{}, n)
	var stop atomic.Bool
	// keep scans part j into kept[j].
	keep := func(j int) {
		buf := takeDatomBuf()
		kept[j] = buf
		errs[j] = parts[j](func(ds []datom.Datom) bool {
			if stop.Load() {
				return false
			}
			return vf.each(ds, func(d *datom.Datom) bool {
				*buf = append(*buf, *d)
				return true
			})
		})
	}
	var back atomic.Int64
	back.Store(int64(n))
	for range helpers {
		go func() {
			for {
				j := int(back.Add(-1))
				if j <= 0 || stop.Load() || !claimed[j].CompareAndSwap(false, true) {
					return
				}
				keep(j)
				done <- struct{}{}
			}
		}()
	}
	stopped := false
	var err error
	f := 0 // the first part this goroutine did not emit as it went
	for ; f < n && claimed[f].CompareAndSwap(false, true); f++ {
		err = parts[f](func(ds []datom.Datom) bool {
			if !chunk(ds) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil || stopped {
			f++
			break
		}
	}
	abort := err != nil || stopped
	if abort {
		stop.Store(true)
	}
	// The parts from f on are a helper's, or nobody's yet: claim those
	// and keep them here too (unless aborting), and wait for the others.
	wait := 0
	for j := f; j < n; j++ {
		switch {
		case !claimed[j].CompareAndSwap(false, true):
			wait++
		case !abort:
			keep(j)
		}
	}
	for range wait {
		<-done
	}
	for j := f; j < n; j++ {
		if kept[j] == nil {
			continue
		}
		if err == nil {
			err = errs[j]
		}
		if err == nil && !stopped {
			ds := *kept[j]
			for i := range ds {
				if !visit(&ds[i]) {
					stopped = true
					break
				}
			}
		}
		putDatomBuf(kept[j])
	}
	return err
}

// datomBufs holds the buffers parts of parallel scans keep their matches
// in.
var datomBufs sync.Pool

func takeDatomBuf() *[]datom.Datom {
	if b, _ := datomBufs.Get().(*[]datom.Datom); b != nil {
		return b
	}
	return new([]datom.Datom)
}

// putDatomBuf pools b, cleared: it must not keep values alive. A buffer
// that grew past 64 Ki datoms is dropped instead.
func putDatomBuf(b *[]datom.Datom) {
	if cap(*b) > 1<<16 {
		return
	}
	clear(*b)
	*b = (*b)[:0]
	datomBufs.Put(b)
}
