package konserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	_ "gocloud.dev/blob/s3blob" // registers s3:// with blob.OpenBucket
)

// The s3 scheme: "s3://bucket/prefix?region=…&endpoint=…&use_path_style=true".
//
// The query is gocloud's (region, endpoint, profile, use_path_style,
// disable_https, …); credentials come only from the standard AWS chain
// (environment, shared config and credentials files, instance roles).
//
// Swap is PutObject with If-Match: <etag> (If-None-Match: * to create),
// sent through the native *s3.Client that the bucket exposes with As.
// Version is the ETag. Outcomes:
//   - 412 PreconditionFailed → ErrConflict;
//   - 404 on If-Match (the key vanished) → ErrConflict;
//   - 409 ConditionalRequestConflict (a concurrent conditional write was in
//     flight), timeouts, 5xx and everything else → an ambiguous plain error.
//     The SDK retries timeouts and 5xx, so a swap that succeeded but lost its
//     reply can even come back as 412: the Store re-reads the head after any
//     failure and checks whether it is its own.
//
// S3 single-part ETags are the MD5 of the bytes, so a head's bytes must never
// repeat (the commit record carries a rising seq and its parent), or a stale
// swap could succeed.

func init() {
	registerScheme("s3", openS3)
}

func openS3(ctx context.Context, u *url.URL) (Backend, error) {
	bkt, prefix, client, err := openNative[*s3.Client](ctx, u, "s3 bucket")
	if err != nil {
		return nil, err
	}
	return &Bucket{b: bkt, prefix: prefix, cas: &s3CAS{client: client, bucket: u.Host}, closeBucket: true}, nil
}

var _ ifChangedReader = (*s3CAS)(nil)

// s3CAS is the S3 casStrategy. It uses the client gocloud built from the URL,
// so it shares its region, endpoint and credentials.
type s3CAS struct {
	client *s3.Client
	bucket string
}

// s3Status returns the HTTP status and the S3 error code of err, when known.
func s3Status(err error) (int, string) {
	status, code := 0, ""
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	return status, code
}

func s3NotFound(err error) bool {
	status, code := s3Status(err)
	return status == http.StatusNotFound || code == "NoSuchKey" || code == "NotFound"
}

func (c *s3CAS) readVersioned(ctx context.Context, key string) ([]byte, Version, error) {
	data, v, _, err := c.get(ctx, key, "")
	return data, v, err
}

func (c *s3CAS) readVersionedIfChanged(ctx context.Context, key string, v Version) ([]byte, Version, bool, error) {
	return c.get(ctx, key, v)
}

// get reads key; with ifNoneMatch set it asks the server to answer 304
// without a body when the ETag still matches.
func (c *s3CAS) get(ctx context.Context, key string, ifNoneMatch Version) ([]byte, Version, bool, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)}
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(string(ifNoneMatch))
	}
	out, err := c.client.GetObject(ctx, in)
	if err != nil {
		status, code := s3Status(err)
		switch {
		case ifNoneMatch != "" && (status == http.StatusNotModified || code == "NotModified"):
			return nil, ifNoneMatch, false, nil
		case s3NotFound(err):
			return nil, "", false, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, "", false, err
	}
	data, err := readAllClose(out.Body)
	if err != nil {
		return nil, "", false, err
	}
	if out.ETag == nil || *out.ETag == "" {
		return nil, "", false, errors.New("s3 response has no ETag")
	}
	return data, Version(*out.ETag), true, nil
}

func (c *s3CAS) swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(c.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType),
	}
	if old == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(string(old))
	}
	out, err := c.client.PutObject(ctx, in)
	if err != nil {
		status, code := s3Status(err)
		switch {
		case status == http.StatusPreconditionFailed || code == "PreconditionFailed":
			return "", fmt.Errorf("%w: %w", ErrConflict, err)
		case old != "" && s3NotFound(err):
			return "", fmt.Errorf("%w: key is gone: %w", ErrConflict, err)
		}
		return "", err
	}
	if out.ETag == nil || *out.ETag == "" {
		// The write happened but we cannot name it: ambiguous, like any
		// other unclassified failure.
		return "", errors.New("s3 PutObject reply has no ETag")
	}
	return Version(*out.ETag), nil
}
