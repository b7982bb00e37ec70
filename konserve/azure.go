package konserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	_ "gocloud.dev/blob/azureblob" // registers azblob:// with blob.OpenBucket
)

// The azblob scheme: "azblob://container/prefix".
//
// Credentials and the service URL come from gocloud's azureblob opener:
// AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, AZURE_STORAGE_CONNECTION_STRING,
// AZURE_STORAGE_SAS_TOKEN or the default Azure credential chain.
//
// Swap uploads the block blob in one request through the native
// *container.Client (from bucket.As) with If-Match: <etag>, or
// If-None-Match: * to create. Version is the ETag. ConditionNotMet (412),
// BlobAlreadyExists (409) and, on If-Match, BlobNotFound (404) →
// ErrConflict; anything else is ambiguous.

func init() {
	registerScheme("azblob", openAzure)
}

func openAzure(ctx context.Context, u *url.URL) (Backend, error) {
	bkt, prefix, client, err := openNative[*container.Client](ctx, u, "azure container")
	if err != nil {
		return nil, err
	}
	return &Bucket{b: bkt, prefix: prefix, cas: &azureCAS{c: client}, closeBucket: true}, nil
}

// azureCAS is the Azure Blob Storage casStrategy.
type azureCAS struct {
	c *container.Client
}

func azureStatus(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func (a *azureCAS) readVersioned(ctx context.Context, key string) ([]byte, Version, error) {
	resp, err := a.c.NewBlobClient(key).DownloadStream(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) || azureStatus(err) == http.StatusNotFound {
			return nil, "", fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, "", err
	}
	data, err := readAllClose(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.ETag == nil || *resp.ETag == "" {
		return nil, "", errors.New("azure download reply has no ETag")
	}
	return data, Version(*resp.ETag), nil
}

var _ createOnlyWriter = (*azureCAS)(nil)

// putIfAbsent is a create-only upload (If-None-Match: *), done natively; see
// createOnlyWriter for why.
func (a *azureCAS) putIfAbsent(ctx context.Context, key string, data []byte) error {
	_, err := a.swap(ctx, key, "", data)
	return err
}

func (a *azureCAS) swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	mac := &azblobblob.ModifiedAccessConditions{}
	if old == "" {
		star := azcore.ETagAny
		mac.IfNoneMatch = &star
	} else {
		etag := azcore.ETag(old)
		mac.IfMatch = &etag
	}
	ct := contentType
	opts := &blockblob.UploadOptions{
		HTTPHeaders:      &azblobblob.HTTPHeaders{BlobContentType: &ct},
		AccessConditions: &azblobblob.AccessConditions{ModifiedAccessConditions: mac},
	}
	resp, err := a.c.NewBlockBlobClient(key).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), opts)
	if err != nil {
		switch {
		case bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists) ||
			azureStatus(err) == http.StatusPreconditionFailed:
			return "", fmt.Errorf("%w: %w", ErrConflict, err)
		case old != "" && (bloberror.HasCode(err, bloberror.BlobNotFound) || azureStatus(err) == http.StatusNotFound):
			return "", fmt.Errorf("%w: key is gone: %w", ErrConflict, err)
		}
		return "", err
	}
	if resp.ETag == nil || *resp.ETag == "" {
		return "", errors.New("azure upload reply has no ETag")
	}
	return Version(*resp.ETag), nil
}
