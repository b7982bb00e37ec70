package konserve_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
)

// Head operations per backend, each exactly one request to the server. On
// loopback the figures are the servers' and SDKs' overhead, not network
// latency.

func benchURLs() map[string]func(testing.TB) string {
	return map[string]func(testing.TB) string{
		"mem":   func(testing.TB) string { return "mem://" },
		"s3":    testenv.S3URL,
		"gcs":   testenv.GCSURL,
		"azure": testenv.AzureURL,
	}
}

var benchBackends = []string{"mem", "s3", "gcs", "azure"}

// BenchmarkSwap: one head swap from the current version (one PUT).
func BenchmarkSwap(b *testing.B) {
	urls := benchURLs()
	for _, name := range benchBackends {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			be := openBackend(b, urls[name](b))
			defer be.Close()
			v, err := be.Swap(ctx, "branches/bench/HEAD", "", []byte("head 0"))
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 512)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				copy(data, fmt.Sprintf("head %d", i+1)) // never repeat bytes
				if v, err = be.Swap(ctx, "branches/bench/HEAD", v, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadVersionedIfChanged: polling an unchanged head. On S3 this is
// a GET answered 304 with no body; elsewhere a full read.
func BenchmarkReadVersionedIfChanged(b *testing.B) {
	urls := benchURLs()
	for _, name := range benchBackends {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			be := openBackend(b, urls[name](b))
			defer be.Close()
			head := make([]byte, 4096)
			v, err := be.Swap(ctx, "branches/bench/HEAD", "", head)
			if err != nil {
				b.Fatal(err)
			}
			cr, ok := be.(konserve.ConditionalReader)
			if !ok {
				b.Fatalf("%T does not implement ConditionalReader", be)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _, changed, err := cr.ReadVersionedIfChanged(ctx, "branches/bench/HEAD", v)
				if err != nil || changed {
					b.Fatalf("ReadVersionedIfChanged = changed %v, %v; want false, nil", changed, err)
				}
			}
		})
	}
}

// BenchmarkReadVersioned: a full read of a 4 KiB head, the baseline for
// BenchmarkReadVersionedIfChanged.
func BenchmarkReadVersioned(b *testing.B) {
	urls := benchURLs()
	for _, name := range benchBackends {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			be := openBackend(b, urls[name](b))
			defer be.Close()
			head := make([]byte, 4096)
			if _, err := be.Swap(ctx, "branches/bench/HEAD", "", head); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(head)))
			for b.Loop() {
				data, _, err := be.ReadVersioned(ctx, "branches/bench/HEAD")
				if err != nil || len(data) != len(head) {
					b.Fatalf("ReadVersioned = %d bytes, %v; want %d, nil", len(data), err, len(head))
				}
			}
		})
	}
}
