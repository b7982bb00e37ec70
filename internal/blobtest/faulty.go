package blobtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/accretedb/accrete/konserve"
)

// Errors Faulty returns. Each injected error wraps exactly one of them, so
// tests can tell an injected failure from a real one.
var (
	// ErrInjected is returned by an operation a Fail fault fired on; the
	// operation was not performed.
	ErrInjected = errors.New("blobtest: injected error")

	// ErrCrashed is returned by the operation a Crash fault fired on and by
	// every later operation: the simulated process is dead.
	ErrCrashed = errors.New("blobtest: crashed")

	// ErrLostReply is returned by an operation a LoseReply fault fired on
	// when the fault names no error of its own: the operation WAS performed
	// and its reply lost, as after a timeout.
	ErrLostReply = errors.New("blobtest: reply lost after success")
)

// Op is a kind of Backend operation.
type Op int

// The operation kinds Faulty counts. OpAny matches every kind.
const (
	OpAny Op = iota
	OpGet
	OpPutImmutable
	OpReadVersioned
	OpReadIfChanged // ConditionalReader.ReadVersionedIfChanged
	OpSwap
	OpDelete
	OpList
	numOps
)

var opNames = [...]string{"any", "get", "put-immutable", "read-versioned", "read-if-changed", "swap", "delete", "list"}

// String returns the operation's name, e.g. "swap".
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// Kind is what a Fault does when it fires.
type Kind int

const (
	// Fail returns an error without performing the operation.
	Fail Kind = iota
	// Crash returns ErrCrashed without performing the operation, and makes
	// every later operation (of any kind) fail with ErrCrashed.
	Crash
	// LoseReply performs the operation, then returns an error instead of
	// its result (write operations did happen).
	LoseReply
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Fail:
		return "fail"
	case Crash:
		return "crash"
	case LoseReply:
		return "lose-reply"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Fault fires once, on the Nth operation (1-based) of kind Op, counted from
// the Faulty's creation or last Reset (OpAny: the Nth operation of any kind).
type Fault struct {
	Op   Op
	N    int64
	Kind Kind
	// Err, if set, is wrapped in the returned error in addition to the
	// kind's sentinel. LoseReply with konserve.ErrConflict simulates an SDK
	// retry whose first attempt succeeded and whose second got 412.
	Err error
}

// Faulty wraps a konserve.Backend and injects Faults. It implements
// konserve.ConditionalReader whatever the wrapped backend does (emulating
// it with ReadVersioned when needed), so tests see one shape.
type Faulty struct {
	inner konserve.Backend

	mu      sync.Mutex
	counts  [numOps]int64 // operations seen, per kind; counts[OpAny] = all
	faults  []Fault
	crashed bool
	fired   []string
	hook    func(op Op, key string)
}

var (
	_ konserve.Backend            = (*Faulty)(nil)
	_ konserve.ConditionalReader  = (*Faulty)(nil)
	_ konserve.ConditionalDeleter = (*Faulty)(nil)
)

// NewFaulty returns a Faulty forwarding to inner with no faults armed.
func NewFaulty(inner konserve.Backend) *Faulty {
	return &Faulty{inner: inner}
}

// Inject arms faults. Faults whose operation number has already passed
// never fire.
func (f *Faulty) Inject(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// FailAt arms a Fail fault on the nth operation of kind op.
func (f *Faulty) FailAt(op Op, n int64) { f.Inject(Fault{Op: op, N: n, Kind: Fail}) }

// CrashAt arms a Crash fault on the nth operation of kind op.
func (f *Faulty) CrashAt(op Op, n int64) { f.Inject(Fault{Op: op, N: n, Kind: Crash}) }

// LoseReplyAt arms a LoseReply fault on the nth operation of kind op.
func (f *Faulty) LoseReplyAt(op Op, n int64) { f.Inject(Fault{Op: op, N: n, Kind: LoseReply}) }

// Count returns how many operations of kind op (OpAny: all) reached the
// Faulty, including those that faults made fail.
func (f *Faulty) Count(op Op) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// Crashed reports whether a Crash fault has fired.
func (f *Faulty) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// Fired returns a description of each fault that fired, in order, e.g.
// "crash at swap #2 (op #7)".
func (f *Faulty) Fired() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.fired...)
}

// Reset disarms all faults, forgets a crash and restarts the counts: the
// "process" restarts over the same storage.
func (f *Faulty) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts = [numOps]int64{}
	f.faults = nil
	f.crashed = false
	f.fired = nil
}

// SetHook makes fn run before every later operation that is performed
// (not one a fault refused), outside the Faulty's lock, so that a test can
// make something happen at an exact point of another component's storage
// sequence (a GC between a writer's two calls, say). fn may call the
// wrapped backend (Inner) or the Faulty itself; it must guard against its
// own recursion. nil removes the hook; Reset keeps it.
func (f *Faulty) SetHook(fn func(op Op, key string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

// Inner returns the wrapped backend.
func (f *Faulty) Inner() konserve.Backend { return f.inner }

// before counts one operation of kind op and decides its fate: a non-nil
// error means "do not perform it, return this"; lose means "perform it, then
// return lostErr".
func (f *Faulty) before(op Op, key string) (err error, lostErr error) {
	f.mu.Lock()
	hook := f.hook
	err, lostErr = f.decide(op, key)
	f.mu.Unlock()
	if hook != nil && err == nil {
		hook(op, key)
	}
	return err, lostErr
}

// decide is before's bookkeeping, under f.mu.
func (f *Faulty) decide(op Op, key string) (err error, lostErr error) {
	f.counts[OpAny]++
	f.counts[op]++
	if f.crashed {
		return fmt.Errorf("blobtest: %s %s: %w", op, key, ErrCrashed), nil
	}
	for i, ft := range f.faults {
		if ft.N <= 0 || (ft.Op != OpAny && ft.Op != op) || f.counts[ft.Op] != ft.N {
			continue
		}
		f.faults[i].N = 0 // fire once
		f.fired = append(f.fired, fmt.Sprintf("%s at %s #%d (op #%d)", ft.Kind, ft.Op, ft.N, f.counts[OpAny]))
		wrap := func(sentinel error) error {
			if ft.Err != nil {
				return fmt.Errorf("blobtest: %s %s: %w: %w", op, key, sentinel, ft.Err)
			}
			return fmt.Errorf("blobtest: %s %s: %w", op, key, sentinel)
		}
		switch ft.Kind {
		case Crash:
			f.crashed = true
			return wrap(ErrCrashed), nil
		case LoseReply:
			return nil, wrap(ErrLostReply)
		default:
			return wrap(ErrInjected), nil
		}
	}
	return nil, nil
}

// Get implements konserve.Backend.
func (f *Faulty) Get(ctx context.Context, key string) ([]byte, error) {
	if err, lost := f.before(OpGet, key); err != nil {
		return nil, err
	} else if lost != nil {
		_, _ = f.inner.Get(ctx, key)
		return nil, lost
	}
	return f.inner.Get(ctx, key)
}

// PutImmutable implements konserve.Backend.
func (f *Faulty) PutImmutable(ctx context.Context, key string, data []byte) error {
	if err, lost := f.before(OpPutImmutable, key); err != nil {
		return err
	} else if lost != nil {
		if err := f.inner.PutImmutable(ctx, key, data); err != nil {
			return err
		}
		return lost
	}
	return f.inner.PutImmutable(ctx, key, data)
}

// ReadVersioned implements konserve.Backend.
func (f *Faulty) ReadVersioned(ctx context.Context, key string) ([]byte, konserve.Version, error) {
	if err, lost := f.before(OpReadVersioned, key); err != nil {
		return nil, "", err
	} else if lost != nil {
		_, _, _ = f.inner.ReadVersioned(ctx, key)
		return nil, "", lost
	}
	return f.inner.ReadVersioned(ctx, key)
}

// ReadVersionedIfChanged implements konserve.ConditionalReader, forwarding
// to the wrapped backend's own implementation when it has one.
func (f *Faulty) ReadVersionedIfChanged(ctx context.Context, key string, v konserve.Version) ([]byte, konserve.Version, bool, error) {
	err, lost := f.before(OpReadIfChanged, key)
	if err != nil {
		return nil, "", false, err
	}
	data, nv, changed, err := f.readIfChanged(ctx, key, v)
	if lost != nil {
		return nil, "", false, lost
	}
	return data, nv, changed, err
}

func (f *Faulty) readIfChanged(ctx context.Context, key string, v konserve.Version) ([]byte, konserve.Version, bool, error) {
	if cr, ok := f.inner.(konserve.ConditionalReader); ok {
		return cr.ReadVersionedIfChanged(ctx, key, v)
	}
	data, nv, err := f.inner.ReadVersioned(ctx, key)
	if err != nil {
		return nil, "", false, err
	}
	if nv == v {
		return nil, v, false, nil
	}
	return data, nv, true, nil
}

// Swap implements konserve.Backend.
func (f *Faulty) Swap(ctx context.Context, key string, old konserve.Version, data []byte) (konserve.Version, error) {
	if err, lost := f.before(OpSwap, key); err != nil {
		return "", err
	} else if lost != nil {
		if _, err := f.inner.Swap(ctx, key, old, data); err != nil {
			return "", err
		}
		return "", lost
	}
	return f.inner.Swap(ctx, key, old, data)
}

// Delete implements konserve.Backend.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err, lost := f.before(OpDelete, key); err != nil {
		return err
	} else if lost != nil {
		if err := f.inner.Delete(ctx, key); err != nil {
			return err
		}
		return lost
	}
	return f.inner.Delete(ctx, key)
}

// DeleteIfOlder implements konserve.ConditionalDeleter, counted and
// faulted as a Delete. It forwards to the wrapped backend's own
// implementation; without one it deletes unconditionally and says so.
func (f *Faulty) DeleteIfOlder(ctx context.Context, key string, before time.Time) (bool, error) {
	del := func() (bool, error) {
		if cd, ok := f.inner.(konserve.ConditionalDeleter); ok {
			return cd.DeleteIfOlder(ctx, key, before)
		}
		return true, f.inner.Delete(ctx, key)
	}
	if err, lost := f.before(OpDelete, key); err != nil {
		return false, err
	} else if lost != nil {
		if _, err := del(); err != nil {
			return false, err
		}
		return false, lost
	}
	return del()
}

// List implements konserve.Backend. A LoseReply fault lets the listing run
// to completion without calling fn, then returns the error.
func (f *Faulty) List(ctx context.Context, prefix string, fn func(konserve.ObjectInfo) error) error {
	if err, lost := f.before(OpList, prefix); err != nil {
		return err
	} else if lost != nil {
		if err := f.inner.List(ctx, prefix, func(konserve.ObjectInfo) error { return nil }); err != nil {
			return err
		}
		return lost
	}
	return f.inner.List(ctx, prefix, fn)
}

// Close implements konserve.Backend. It is not counted and never faulted,
// so tests can always release the wrapped backend.
func (f *Faulty) Close() error { return f.inner.Close() }
