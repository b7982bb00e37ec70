// Command mkbucket waits until a local storage emulator answers and creates
// the test bucket (or container) on it. scripts/test.sh runs it once per
// emulator after starting the server; it is not meant for real clouds.
//
// Usage:
//
//	mkbucket [-timeout 60s] s3://bucket?endpoint=…   (versitygw; AWS_* from the environment)
//	mkbucket gs://bucket                            (fake-gcs-server; STORAGE_EMULATOR_HOST)
//	mkbucket azblob://container                     (Azurite; AZURE_STORAGE_CONNECTION_STRING)
//
// It retries until the bucket exists or the timeout passes, so a server that
// is still starting is not an error. An already existing bucket is success.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

func main() {
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for the server")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mkbucket [-timeout d] s3://b?endpoint=…|gs://b|azblob://c")
		os.Exit(2)
	}
	u, err := url.Parse(flag.Arg(0))
	if err != nil || u.Host == "" {
		fmt.Fprintf(os.Stderr, "mkbucket: bad url %q\n", flag.Arg(0))
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var last error
	for {
		last = create(ctx, u)
		if last == nil {
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "mkbucket: %s: %v\n", u.Redacted(), last)
			os.Exit(1)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func create(ctx context.Context, u *url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch u.Scheme {
	case "s3":
		return createS3(ctx, u)
	case "gs":
		return createGCS(ctx, u)
	case "azblob":
		return createAzure(ctx, u)
	}
	return fmt.Errorf("unknown scheme %q", u.Scheme)
}

func createS3(ctx context.Context, u *url.URL) error {
	q := u.Query()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(q.Get("region")))
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(q.Get("endpoint"))
		o.UsePathStyle = true
	})
	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(u.Host)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if errors.As(err, &owned) || errors.As(err, &exists) {
		return nil
	}
	return err
}

func createGCS(ctx context.Context, u *url.URL) error {
	host := os.Getenv("STORAGE_EMULATOR_HOST")
	if host == "" {
		return errors.New("STORAGE_EMULATOR_HOST is not set")
	}
	client, err := storage.NewClient(ctx, option.WithoutAuthentication(),
		option.WithEndpoint("http://"+host+"/storage/v1/"))
	if err != nil {
		return err
	}
	defer client.Close()
	err = client.Bucket(u.Host).Create(ctx, "accrete-test", nil)
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == 409 {
		return nil
	}
	return err
}

func createAzure(ctx context.Context, u *url.URL) error {
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if cs == "" {
		return errors.New("AZURE_STORAGE_CONNECTION_STRING is not set")
	}
	c, err := container.NewClientFromConnectionString(cs, u.Host, nil)
	if err != nil {
		return err
	}
	_, err = c.Create(ctx, nil)
	if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil
	}
	return err
}
