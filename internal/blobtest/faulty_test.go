package blobtest_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
)

func newFileFaulty(t *testing.T) *blobtest.Faulty {
	t.Helper()
	s, err := konserve.Open(context.Background(), "file://"+t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return blobtest.NewFaulty(s.Backend())
}

func TestFaultKinds(t *testing.T) {
	ctx := context.Background()
	f := newFileFaulty(t)
	f.FailAt(blobtest.OpPutImmutable, 1)
	f.LoseReplyAt(blobtest.OpPutImmutable, 2)
	if err := f.PutImmutable(ctx, "nodes/aa/one", []byte("1")); !errors.Is(err, blobtest.ErrInjected) {
		t.Fatalf("put #1 error = %v, want ErrInjected", err)
	}
	if _, err := f.Inner().Get(ctx, "nodes/aa/one"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("after a Fail fault the object exists (Get error %v), want it not written", err)
	}
	if err := f.PutImmutable(ctx, "nodes/aa/two", []byte("2")); !errors.Is(err, blobtest.ErrLostReply) {
		t.Fatalf("put #2 error = %v, want ErrLostReply", err)
	}
	if got, err := f.Inner().Get(ctx, "nodes/aa/two"); err != nil || string(got) != "2" {
		t.Errorf("after a LoseReply fault Get = %q, %v; want the object written", got, err)
	}
	if err := f.PutImmutable(ctx, "nodes/aa/three", []byte("3")); err != nil {
		t.Errorf("put #3 (no fault) = %v, want nil", err)
	}
	want := []string{"fail at put-immutable #1 (op #1)", "lose-reply at put-immutable #2 (op #2)"}
	if got := f.Fired(); !slices.Equal(got, want) {
		t.Errorf("Fired = %q, want %q", got, want)
	}
	if f.Crashed() {
		t.Errorf("Crashed = true without a Crash fault")
	}
}

func TestFaultOnAnyOpAndReset(t *testing.T) {
	ctx := context.Background()
	f := newFileFaulty(t)
	f.CrashAt(blobtest.OpAny, 2)
	if _, err := f.Swap(ctx, "branches/b/HEAD", "", []byte("h")); err != nil {
		t.Fatalf("op #1: %v", err)
	}
	if _, _, err := f.ReadVersioned(ctx, "branches/b/HEAD"); !errors.Is(err, blobtest.ErrCrashed) {
		t.Fatalf("op #2 error = %v, want ErrCrashed", err)
	}
	if err := f.List(ctx, "", func(konserve.ObjectInfo) error { return nil }); !errors.Is(err, blobtest.ErrCrashed) {
		t.Errorf("op after crash error = %v, want ErrCrashed", err)
	}
	if got := f.Count(blobtest.OpAny); got != 3 {
		t.Errorf("Count(any) = %d, want 3", got)
	}
	f.Reset()
	if f.Crashed() || f.Count(blobtest.OpAny) != 0 {
		t.Errorf("after Reset: crashed %v, count %d; want false, 0", f.Crashed(), f.Count(blobtest.OpAny))
	}
	if data, _, err := f.ReadVersioned(ctx, "branches/b/HEAD"); err != nil || string(data) != "h" {
		t.Errorf("after Reset ReadVersioned = %q, %v; want %q", data, err, "h")
	}
}

func TestFaultWrapsGivenError(t *testing.T) {
	ctx := context.Background()
	f := newFileFaulty(t)
	f.Inject(blobtest.Fault{Op: blobtest.OpSwap, N: 1, Kind: blobtest.LoseReply, Err: konserve.ErrConflict})
	_, err := f.Swap(ctx, "branches/c/HEAD", "", []byte("x"))
	if !errors.Is(err, konserve.ErrConflict) || !errors.Is(err, blobtest.ErrLostReply) {
		t.Errorf("error = %v, want it to wrap ErrConflict and ErrLostReply", err)
	}
	if data, _, err := f.ReadVersioned(ctx, "branches/c/HEAD"); err != nil || string(data) != "x" {
		t.Errorf("the swap whose reply was lost did not land: %q, %v", data, err)
	}
}

func TestOpString(t *testing.T) {
	for op, want := range map[blobtest.Op]string{blobtest.OpAny: "any", blobtest.OpSwap: "swap", blobtest.OpList: "list", blobtest.Op(99): "Op(99)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", int(op), got, want)
		}
	}
}
