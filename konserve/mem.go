package konserve

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"
)

// The mem scheme: "mem://name/prefix" or "mem://" (a fresh private bucket).
//
// memRegistry is the one process-wide mutable global in konserve, and it is
// deliberate: a mem:// URL names a bucket, and a URL must mean the same thing
// to every Open in the process, exactly as s3://bkt does. Tests and examples
// open a writer and a reader on "mem://db" and expect them to share data,
// just as two processes share an S3 bucket. Entries are never removed: a
// named mem bucket lives as long as the process (use "mem://" for a private
// bucket that is freed with its Backend).
var memRegistry = struct {
	sync.Mutex
	buckets map[string]*memShared
}{buckets: map[string]*memShared{}}

// memShared is one named in-memory bucket and the lock that makes Swap on it
// atomic. Every Bucket opened on the same name shares both.
type memShared struct {
	b  *blob.Bucket
	mu sync.Mutex
	// gen numbers the writes made by Swap. It only rises, so a version is
	// never reused, even when a head is deleted and recreated or written
	// twice with the same bytes (no ABA).
	gen atomic.Uint64
}

// memVersionKey is the metadata key under which Swap records the version.
const memVersionKey = "accrete-version"

func init() {
	registerScheme("mem", openMem)
}

func openMem(ctx context.Context, u *url.URL) (Backend, error) {
	prefix, err := keyPrefix(u)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		sh := &memShared{b: openMemblob()}
		return newMemBucket(sh, prefix, true), nil
	}
	memRegistry.Lock()
	defer memRegistry.Unlock()
	sh, ok := memRegistry.buckets[u.Host]
	if !ok {
		sh = &memShared{b: openMemblob()}
		memRegistry.buckets[u.Host] = sh
	}
	return newMemBucket(sh, prefix, false), nil
}

// openMemblob opens a memblob bucket that computes no MD5 of what it
// stores: nothing reads it (nodes are checked by their BLAKE3 address), and
// with gocloud's own two passes in WriteAll it was three MD5s of every
// object, more than a quarter of an in-memory import's CPU.
func openMemblob() *blob.Bucket { return memblob.OpenBucket(&memblob.Options{NoMD5: true}) }

var _ createOnlyWriter = (*memCAS)(nil)

// putIfAbsent is a create-only write through a gocloud Writer rather than
// WriteAll, which hashes the bytes twice (an MD5 to set ContentMD5, and the
// Writer's check of it) for an integrity check that memory does not need.
func (m *memCAS) putIfAbsent(ctx context.Context, key string, data []byte) error {
	w, err := m.b.NewWriter(ctx, key, &blob.WriterOptions{ContentType: contentType, IfNotExist: true})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close() // the write's error is what matters
		return err
	}
	return w.Close()
}

func newMemBucket(sh *memShared, prefix string, owned bool) *Bucket {
	return &Bucket{b: sh.b, prefix: prefix, cas: (*memCAS)(sh), lock: &sh.mu, closeBucket: owned}
}

// memCAS is the mem casStrategy. Bucket.Swap and Bucket.Delete hold sh.mu
// around it; readVersioned takes it itself so that bytes and version are
// read as one state.
type memCAS memShared

func (m *memCAS) readVersioned(ctx context.Context, key string) ([]byte, Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readLocked(ctx, key)
}

// readLocked returns the bytes and version of key; the caller holds m.mu.
func (m *memCAS) readLocked(ctx context.Context, key string) ([]byte, Version, error) {
	attrs, err := m.b.Attributes(ctx, key)
	if err != nil {
		return nil, "", memErr(err)
	}
	data, err := m.b.ReadAll(ctx, key)
	if err != nil {
		return nil, "", memErr(err)
	}
	return data, memVersion(attrs), nil
}

// memVersion is the version Swap recorded, or, for an object written some
// other way (PutImmutable), its ETag prefixed so it cannot collide with a
// Swap generation.
func memVersion(attrs *blob.Attributes) Version {
	if v, ok := attrs.Metadata[memVersionKey]; ok {
		return Version(v)
	}
	return Version("etag:" + attrs.ETag)
}

func memErr(err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// swap runs with m.mu held by Bucket.Swap.
func (m *memCAS) swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	_, cur, err := m.readLocked(ctx, key)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return "", err
	case err != nil && old != "":
		return "", fmt.Errorf("%w: key is gone, want version %s", ErrConflict, old)
	case err == nil && cur != old:
		return "", fmt.Errorf("%w: version is %s, want %s", ErrConflict, cur, old)
	}
	v := strconv.FormatUint((*memShared)(m).gen.Add(1), 10)
	opts := &blob.WriterOptions{ContentType: contentType, Metadata: map[string]string{memVersionKey: v}}
	if err := m.b.WriteAll(ctx, key, data, opts); err != nil {
		return "", err
	}
	return Version(v), nil
}
