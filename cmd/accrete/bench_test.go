package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runInProcess runs one command line in this process and fails b unless it
// exits 0.
func runInProcess(b *testing.B, stdin string, args ...string) string {
	b.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, flush: func() error { return nil }}
	if code := run(context.Background(), e, args); code != 0 {
		b.Fatalf("accrete %q: exit %d: %s", args, code, errb.String())
	}
	return out.String()
}

// BenchmarkImportCSV measures the import of a CSV file into a file bucket,
// in batches of 1000 rows, in this process.
func BenchmarkImportCSV(b *testing.B) {
	const rows = 5000
	dir := b.TempDir()
	csvPath := filepath.Join(dir, "people.csv")
	var sb strings.Builder
	sb.WriteString("name,age\n")
	for i := range rows {
		fmt.Fprintf(&sb, "p%d,%d\n", i, i%90)
	}
	if err := os.WriteFile(csvPath, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		url := "file://" + filepath.Join(dir, fmt.Sprintf("db%d", n))
		n++
		runInProcess(b, "", "create", url)
		runInProcess(b, schemaTx, "transact", url)
		runInProcess(b, "", "import", url, csvPath, "--map", "name=:person/name,age=:person/age")
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkQueryProcess measures what a user waits for: a new accrete
// process opening a file bucket and answering a query.
func BenchmarkQueryProcess(b *testing.B) {
	dir := b.TempDir()
	url := "file://" + filepath.Join(dir, "db")
	runInProcess(b, "", "create", url)
	runInProcess(b, schemaTx, "transact", url)
	runInProcess(b, peopleTx, "transact", url)
	exe := binary(b)
	for b.Loop() {
		out, err := exec.Command(exe, "query", url, `[:find ?n :where [?e :person/age ?a] [(> ?a 26)] [?e :person/name ?n]]`).Output()
		if err != nil || string(out) != "#{[\"Ann\"]}\n" {
			b.Fatalf("query: %q, %v", out, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/process")
}
