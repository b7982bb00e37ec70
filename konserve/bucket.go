package konserve

// This file holds the Backend over a gocloud.dev *blob.Bucket shared by the
// mem, s3, gs and azblob schemes.
//
// What it is: immutable keys go through gocloud's portable API (ReadAll,
// WriteAll with IfNotExist, List, Delete); mutable keys (heads) go through a
// per-provider casStrategy, because gocloud.dev v0.47.0 has no portable
// compare-and-swap. Each strategy reaches the provider's native client
// through bucket.As and uses the provider's own precondition: S3 If-Match /
// If-None-Match on the ETag, GCS generation match / does-not-exist, Azure
// ETag conditions, memblob a mutex.
//
// What it is not: it does not hash, verify, cache or count; Store does that.
//
// Errors are classified once, here: a missing key wraps ErrNotFound, a failed
// swap precondition wraps ErrConflict, and every error names the operation
// and the key. Anything else from a swap is ambiguous (the write may have
// happened) and wraps neither.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

var (
	_ Backend            = (*Bucket)(nil)
	_ ConditionalReader  = (*Bucket)(nil)
	_ ConditionalDeleter = (*Bucket)(nil)
)

// contentType is set on every object so that gocloud does not sniff bytes.
const contentType = "application/octet-stream"

// casStrategy is the per-provider part of a Bucket: the operations on
// mutable keys that the portable API cannot express. Keys it receives
// already carry the Bucket's prefix. Errors it returns are already
// classified (ErrNotFound, ErrConflict) but not yet named with the
// operation; Bucket adds that.
type casStrategy interface {
	// readVersioned returns the bytes under key and their version.
	readVersioned(ctx context.Context, key string) ([]byte, Version, error)
	// swap writes data under key if its current version is old ("" = absent).
	swap(ctx context.Context, key string, old Version, data []byte) (Version, error)
}

// createOnlyWriter is implemented by strategies whose provider needs a
// native create-only write. Azure does: gocloud v0.47.0's azureblob writer
// dereferences a nil pipe in Close (a panic) whenever the upload fails, as a
// create-only write of an existing key does. mem implements it to skip
// WriteAll's MD5 passes. Errors must be classifiable by
// gcerrors.Code or wrap ErrConflict for "already exists".
type createOnlyWriter interface {
	putIfAbsent(ctx context.Context, key string, data []byte) error
}

// ifChangedReader is implemented by strategies that can make a conditional
// read cheaper than a full one. Others fall back to readVersioned.
type ifChangedReader interface {
	readVersionedIfChanged(ctx context.Context, key string, v Version) ([]byte, Version, bool, error)
}

// Bucket is a Backend over a gocloud.dev blob bucket, opened from a mem://,
// s3://, gs:// or azblob:// URL. The URL path is a key prefix: every key is
// stored as prefix + "/" + key, so several databases can share one bucket.
//
// A Bucket is safe for concurrent use by many goroutines. Swap is atomic
// against Swaps from other processes on every provider except mem, where
// "other processes" cannot exist. Returned byte slices belong to the caller.
type Bucket struct {
	b      *blob.Bucket
	prefix string // "" or ends with "/"
	cas    casStrategy
	// lock, when non-nil, serializes Swap and Delete of the same bucket
	// (mem only: memblob has no server-side precondition for updates).
	lock *sync.Mutex
	// closeBucket reports whether Close closes b (false for a shared,
	// process-wide mem bucket that other Opens still use).
	closeBucket bool
}

// openNative opens the gocloud bucket a cloud URL names, with its key
// prefix, and the provider's native client C (through Bucket.As), which the
// compare-and-swap strategies need. what names the bucket kind in errors
// ("s3 bucket", "azure container").
func openNative[C any](ctx context.Context, u *url.URL, what string) (*blob.Bucket, string, C, error) {
	var client C
	if u.Host == "" {
		return nil, "", client, fmt.Errorf("konserve: %s: no %s name: %w", u.Redacted(), what, ErrUnsupportedURL)
	}
	prefix, err := keyPrefix(u)
	if err != nil {
		return nil, "", client, err
	}
	bkt, err := blob.OpenBucket(ctx, bucketURL(u).String())
	if err != nil {
		return nil, "", client, fmt.Errorf("konserve: open %s %s: %w", what, u.Host, err)
	}
	if !bkt.As(&client) {
		_ = bkt.Close()
		return nil, "", client, fmt.Errorf("konserve: open %s %s: no native client", what, u.Host)
	}
	return bkt, prefix, client, nil
}

// keyPrefix turns a URL path into the key prefix: no leading or trailing
// slash, then one trailing slash when non-empty. It refuses "." and ".."
// segments, which object stores treat literally but file systems do not,
// empty segments, and whatever checkKey refuses (better at Open than at the
// first write).
func keyPrefix(u *url.URL) (string, error) {
	p := strings.Trim(u.Path, "/")
	if p == "" {
		return "", nil
	}
	if err := checkKey(p); err != nil {
		return "", fmt.Errorf("konserve: key prefix in %s: %w: %w", u.Redacted(), ErrUnsupportedURL, err)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("konserve: key prefix %q in %s: %w", p, u.Redacted(), ErrUnsupportedURL)
		}
	}
	return p + "/", nil
}

// bucketURL returns u without its path (the key prefix), ready for a
// gocloud URL opener, which would otherwise reject or misuse it.
func bucketURL(u *url.URL) *url.URL {
	v := *u
	v.Path, v.RawPath = "", ""
	return &v
}

func (b *Bucket) full(key string) string { return b.prefix + key }

// errKeyChars is wrapped when a key or prefix holds bytes that a gocloud
// driver would escape.
var errKeyChars = errors.New("key holds characters the bucket drivers escape")

// checkKey refuses keys that some gocloud driver escapes before sending
// (control bytes, DEL, `"#%?\`, "../", a trailing slash, invalid UTF-8).
// Bucket reaches heads through the native clients, which do not escape, and
// everything else through the portable API, which does; such a key would
// name two different objects. konserve's own keys are plain ASCII.
func checkKey(key string) error {
	if !utf8.ValidString(key) || strings.Contains(key, "../") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("konserve: %q: %w", key, errKeyChars)
	}
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c < 0x20, c == 0x7f, c == '"', c == '#', c == '%', c == '?', c == '\\':
			return fmt.Errorf("konserve: %q: %w", key, errKeyChars)
		}
	}
	return nil
}

// classify wraps err from the portable API with op and key, mapping
// gocloud's codes to konserve sentinels.
func classify(op, key string, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("konserve: %s %s: %w: %w", op, key, ErrNotFound, err)
	default:
		return fmt.Errorf("konserve: %s %s: %w", op, key, err)
	}
}

// Get implements Backend.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := b.b.ReadAll(ctx, b.full(key))
	if err != nil {
		return nil, classify("get", key, err)
	}
	return data, nil
}

// PutImmutable implements Backend. It writes create-only (IfNotExist); a
// failed precondition means the key exists with the same bytes and is a
// success, once the object is freshened. After an ambiguous failure (S3
// answers 409 to two racing create-only writes of one key) it checks whether
// the key exists, since any object under a content address holds the right
// bytes.
func (b *Bucket) PutImmutable(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	full := b.full(key)
	for range maxPutAttempts {
		var err error
		if p, ok := b.cas.(createOnlyWriter); ok {
			err = p.putIfAbsent(ctx, full, data)
		} else {
			err = b.b.WriteAll(ctx, full, data, &blob.WriterOptions{ContentType: contentType, IfNotExist: true})
		}
		if err == nil {
			return nil
		}
		exists := gcerrors.Code(err) == gcerrors.FailedPrecondition || errors.Is(err, ErrConflict)
		if !exists && ctx.Err() == nil {
			if ok, xerr := b.b.Exists(ctx, full); xerr == nil && ok {
				exists = true
			}
		}
		if !exists {
			return classify("put", key, err)
		}
		err = b.freshen(ctx, full)
		if gcerrors.Code(err) != gcerrors.NotFound {
			if err != nil {
				return classify("put", key, err)
			}
			return nil
		}
		// Collected between the failed create and the freshening: create
		// it again.
	}
	return fmt.Errorf("konserve: put %s: the object kept vanishing (%d attempts)", key, maxPutAttempts)
}

// freshen restarts the modification time of the existing object full by
// writing its bytes again: garbage collection sweeps only unreachable
// objects older than its grace, and this one is about to be reachable again
// (see Backend.PutImmutable). The stored bytes are written back, not the
// caller's: the key is create-only even for a caller that breaks content
// addressing. On mem it holds the bucket's lock, which DeleteIfOlder holds
// too, so the object is freshened while it exists or found gone (NotFound).
func (b *Bucket) freshen(ctx context.Context, full string) error {
	if b.lock != nil {
		b.lock.Lock()
		defer b.lock.Unlock()
	}
	cur, err := b.b.ReadAll(ctx, full)
	if err != nil {
		return err
	}
	return b.b.WriteAll(ctx, full, cur, &blob.WriterOptions{ContentType: contentType})
}

// DeleteIfOlder implements ConditionalDeleter. On mem the time is read
// and the object deleted under the bucket's lock, which freshen holds as
// well; on S3, GCS and Azure the metadata read precedes the delete by a
// round trip, during which a freshening can still be lost.
func (b *Bucket) DeleteIfOlder(ctx context.Context, key string, before time.Time) (bool, error) {
	if b.lock != nil {
		b.lock.Lock()
		defer b.lock.Unlock()
	}
	full := b.full(key)
	attrs, err := b.b.Attributes(ctx, full)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return false, nil
		}
		return false, classify("delete", key, err)
	}
	if !attrs.ModTime.Before(before) {
		return false, nil
	}
	if err := b.b.Delete(ctx, full); err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return false, nil
		}
		return false, classify("delete", key, err)
	}
	return true, nil
}

// ReadVersioned implements Backend.
func (b *Bucket) ReadVersioned(ctx context.Context, key string) ([]byte, Version, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	data, v, err := b.cas.readVersioned(ctx, b.full(key))
	if err != nil {
		return nil, "", fmt.Errorf("konserve: read versioned %s: %w", key, err)
	}
	return data, v, nil
}

// ReadVersionedIfChanged reads a mutable key only if its version differs
// from v. When it has not changed it returns (nil, v, false, nil), and on S3
// the server sends no body (If-None-Match: v, answered 304). Other providers
// read the key and compare versions. A missing key is an error wrapping
// ErrNotFound.
func (b *Bucket) ReadVersionedIfChanged(ctx context.Context, key string, v Version) ([]byte, Version, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, "", false, err
	}
	if r, ok := b.cas.(ifChangedReader); ok && v != "" {
		data, nv, changed, err := r.readVersionedIfChanged(ctx, b.full(key), v)
		if err != nil {
			return nil, "", false, fmt.Errorf("konserve: read versioned %s: %w", key, err)
		}
		return data, nv, changed, nil
	}
	data, nv, err := b.ReadVersioned(ctx, key)
	if err != nil {
		return nil, "", false, err
	}
	if nv == v {
		return nil, v, false, nil
	}
	return data, nv, true, nil
}

// Swap implements Backend.
func (b *Bucket) Swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if b.lock != nil {
		b.lock.Lock()
		defer b.lock.Unlock()
	}
	v, err := b.cas.swap(ctx, b.full(key), old, data)
	if err != nil {
		return "", fmt.Errorf("konserve: swap %s: %w", key, err)
	}
	return v, nil
}

// Delete implements Backend.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if b.lock != nil {
		b.lock.Lock()
		defer b.lock.Unlock()
	}
	err := b.b.Delete(ctx, b.full(key))
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return classify("delete", key, err)
	}
	return nil
}

// List implements Backend. Keys handed to fn have the Bucket's prefix
// removed, so they are the keys Get accepts.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	it := b.b.List(&blob.ListOptions{Prefix: b.full(prefix)})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return classify("list", prefix, err)
		}
		if obj.IsDir {
			continue
		}
		info := ObjectInfo{Key: strings.TrimPrefix(obj.Key, b.prefix), Size: obj.Size, ModTime: obj.ModTime}
		if err := fn(info); err != nil {
			return err
		}
	}
}

// Close implements Backend. It closes the underlying bucket unless it is a
// shared named mem bucket.
func (b *Bucket) Close() error {
	if !b.closeBucket {
		return nil
	}
	if err := b.b.Close(); err != nil {
		return fmt.Errorf("konserve: close bucket: %w", err)
	}
	return nil
}

// readAllClose reads and closes a response body, reporting the first error.
func readAllClose(r io.ReadCloser) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
