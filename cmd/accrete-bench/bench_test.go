package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

// benchEnv loads the workload (or generates it) and returns an env on be.
func benchEnv(b *testing.B, be backend) *env {
	b.Helper()
	dir := defaultDataDir()
	people, err := loadPeople(filepath.Join(dir, "people-20k.json"))
	if err != nil {
		b.Fatal(err)
	}
	aux, err := loadAux(filepath.Join(dir, "aux-datasets.json"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := newEnv(context.Background(), "full", be, people, aux)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := e.close(); err != nil {
			b.Error(err)
		}
	})
	return e
}

// BenchmarkReads runs the query, pull and rules benches under go test, for
// profiling with -cpuprofile; it reports the rows of each result and the
// CPU time per op (run with -cpu 1 on a shared machine).
func BenchmarkReads(b *testing.B) {
	for _, be := range []backend{backendMem, backendFile} {
		e := benchEnv(b, be)
		for _, bl := range benchList {
			switch bl.name {
			case "add-1", "add-5", "add-all", "init", "retract-5":
				continue
			}
			b.Run(string(be)+"/"+bl.name, func(b *testing.B) {
				fn, err := bl.mk(e)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := fn.op(); err != nil { // warm the cache
					b.Fatal(err)
				}
				b.ReportAllocs()
				var last any
				cpu := processCPU()
				for b.Loop() {
					if last, err = fn.op(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
				if rows, ok := last.(query.Relation); ok {
					b.ReportMetric(float64(len(rows)), "rows")
				}
			})
		}
	}
}

// BenchmarkAdd5 is issue 3's in-memory transaction path on add-5: the 20,000
// people, one With each; it reports transactions and datoms per second.
func BenchmarkAdd5(b *testing.B) {
	e := benchEnv(b, backendMem)
	fn, err := mkAdd5(e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var last any
	for b.Loop() {
		if last, err = fn.op(); err != nil {
			b.Fatal(err)
		}
	}
	n, err := userDatoms(e.ctx, last.(*reader.DB))
	if err != nil {
		b.Fatal(err)
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(len(e.people))/secs, "tx/s")
	b.ReportMetric(float64(n)/secs, "datoms/s")
}
