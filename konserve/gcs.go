package konserve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"cloud.google.com/go/storage"
	_ "gocloud.dev/blob/gcsblob" // registers gs:// with blob.OpenBucket
	"google.golang.org/api/googleapi"
)

// The gs scheme: "gs://bucket/prefix".
//
// Credentials are Application Default Credentials; with STORAGE_EMULATOR_HOST
// set, gocloud talks to that emulator without authentication.
//
// Swap writes through the native *storage.Client (from bucket.As) with a
// generation precondition: DoesNotExist to create, GenerationMatch otherwise.
// Version is the object generation in decimal. A 412 (and a 404 on
// GenerationMatch) → ErrConflict; anything else is ambiguous. Heads are
// written in one request without a buffer (ChunkSize 0), so the storage
// client does not retry them itself; a lost reply surfaces as an ambiguous
// error and the Store re-reads the head. (A retry by any layer could turn
// our own success into a 412, which is why the Store also re-reads after a
// conflict before it rebases.)
//
// GCS allows about one write per second to one object name; a single head
// key is therefore limited to that rate (see DESIGN-NOTES, "GCS and very high
// commit rates"). Generations are unique per object name for the life of
// the bucket, so versions never repeat.

func init() {
	registerScheme("gs", openGCS)
}

func openGCS(ctx context.Context, u *url.URL) (Backend, error) {
	bkt, prefix, client, err := openNative[*storage.Client](ctx, u, "gcs bucket")
	if err != nil {
		return nil, err
	}
	return &Bucket{b: bkt, prefix: prefix, cas: &gcsCAS{bkt: client.Bucket(u.Host)}, closeBucket: true}, nil
}

// gcsCAS is the GCS casStrategy.
type gcsCAS struct {
	bkt *storage.BucketHandle
}

func gcsStatus(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func (c *gcsCAS) readVersioned(ctx context.Context, key string) ([]byte, Version, error) {
	r, err := c.bkt.Object(key).NewReader(ctx)
	if err != nil {
		if errors.Is(err, storage.ErrObjectNotExist) || gcsStatus(err) == http.StatusNotFound {
			return nil, "", fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, "", err
	}
	gen := r.Attrs.Generation
	data, err := readAllClose(r)
	if err != nil {
		return nil, "", err
	}
	return data, Version(strconv.FormatInt(gen, 10)), nil
}

func (c *gcsCAS) swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	cond := storage.Conditions{DoesNotExist: true}
	if old != "" {
		gen, err := strconv.ParseInt(string(old), 10, 64)
		if err != nil || gen <= 0 {
			return "", fmt.Errorf("%w: %q is not a GCS generation", ErrConflict, old)
		}
		cond = storage.Conditions{GenerationMatch: gen}
	}
	// Cancelling the context is the only way to abandon a storage.Writer
	// without publishing; a failed Write or Close must not leave it running.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := c.bkt.Object(key).If(cond).NewWriter(wctx)
	w.ContentType = contentType
	// One request, no resumable session and no client-side retry: heads
	// are small, and a retry could only blur the outcome.
	w.ChunkSize = 0
	if _, err := w.Write(data); err != nil {
		cancel()
		_ = w.Close()
		return "", gcsSwapErr(err, old)
	}
	if err := w.Close(); err != nil {
		return "", gcsSwapErr(err, old)
	}
	attrs := w.Attrs()
	if attrs == nil || attrs.Generation == 0 {
		return "", errors.New("gcs write reply has no generation")
	}
	return Version(strconv.FormatInt(attrs.Generation, 10)), nil
}

func gcsSwapErr(err error, old Version) error {
	switch status := gcsStatus(err); {
	case status == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case old != "" && (status == http.StatusNotFound || errors.Is(err, storage.ErrObjectNotExist)):
		return fmt.Errorf("%w: key is gone: %w", ErrConflict, err)
	}
	return err
}
