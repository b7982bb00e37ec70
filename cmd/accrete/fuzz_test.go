package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/edn"
)

// FuzzParseDBRef: any string either fails or gives a URL without accrete's
// own parameters and a valid branch.
func FuzzParseDBRef(f *testing.F) {
	for _, s := range []string{"file:///d", "s3://b/p?region=r&branch=dev&as-of=3", "mem://x?history=true", "%", "file:///d?branch=", "a:b?since=x&since=y"} {
		f.Add(s, "")
	}
	f.Add("file:///d", "dev")
	f.Fuzz(func(t *testing.T, raw, br string) {
		ref, err := parseDBRef(raw, br)
		if err != nil {
			return
		}
		again, err := parseDBRef(ref.url, "")
		if err != nil {
			t.Fatalf("cleaned URL %q (from %q) does not parse: %v", ref.url, raw, err)
		}
		if again.asOf != "" || again.since != "" || again.history || again.url != ref.url {
			t.Fatalf("cleaned URL %q (from %q) still carries accrete parameters: %+v", ref.url, raw, again)
		}
		if !branch.ValidName(ref.branch) {
			t.Fatalf("branch %q of %q is not valid", ref.branch, raw)
		}
	})
}

// FuzzJSONTxData: decoding never panics and accepted input is printable EDN.
func FuzzJSONTxData(f *testing.F) {
	for _, s := range []string{`[{"a/b": 1}]`, `{"db/id": "x", "a": ":k"}`, `[[":db/add", "x", "a/b", 1.5e300]]`, `[`, `[1, {"": null}]`, `{"a": 18446744073709551616}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := jsonTxData(b)
		if err != nil {
			return
		}
		if _, err := edn.Marshal(v); err != nil {
			t.Fatalf("accepted JSON %q gives unprintable EDN: %v", b, err)
		}
	})
}

// FuzzUnwrapReader: for a vector printed by export, the unwrapped stream
// decodes to the vector's elements, however reads are split.
func FuzzUnwrapReader(f *testing.F) {
	f.Add([]byte(`{:a 1} [1 2] "x]"`), 3)
	f.Add([]byte(`[[[]]] {}`), 1)
	f.Add([]byte(``), 7)
	f.Fuzz(func(t *testing.T, body []byte, chunk int) {
		want, err := edn.ReadAll(body)
		if err != nil {
			return
		}
		in := append(append([]byte{}, body...), []byte("]\n")...)
		if chunk < 1 {
			chunk = 1
		}
		dec := edn.NewDecoder(&unwrapReader{r: &chunkReader{b: in, n: chunk}})
		var got []any
		for {
			v, err := dec.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("decode unwrapped %q: %v", in, err)
			}
			got = append(got, v)
		}
		if len(got) != len(want) {
			t.Fatalf("unwrapped %q: %d values, want %d", in, len(got), len(want))
		}
		for i := range got {
			if !edn.Equal(got[i], want[i]) {
				t.Fatalf("value %d = %s, want %s", i, edn.String(got[i]), edn.String(want[i]))
			}
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

// FuzzQueryMap: rewriting a query's :in never panics, and a rewritten query
// names $ in its :in.
func FuzzQueryMap(f *testing.F) {
	for _, s := range []string{`[:find ?e :where [?e :a]]`, `{:find [?e] :in [?x] :where [[?e :a ?x]]}`, `[?x :find]`, `[:find ?e :in $a % :where]`, `{:in 3}`} {
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, q string, n int) {
		form, err := edn.ReadString(q)
		if err != nil {
			return
		}
		qm, err := queryMap(form)
		if err != nil {
			return
		}
		qm, in, err := bindIn(qm, nil, n%2 == 0, n%4)
		if err != nil {
			return
		}
		found := false
		for _, x := range in {
			found = found || x == edn.Symbol("$")
		}
		if !found {
			t.Fatalf("rewritten :in %s lacks $", edn.String(edn.Vector(in)))
		}
		if _, err := edn.Marshal(qm); err != nil {
			t.Fatalf("rewritten query is not printable: %v", err)
		}
	})
}

// FuzzReadCSV: a dry CSV import of arbitrary bytes never panics.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("a/b,c/d\n1,x\n\"q\"\"\",2\n"))
	f.Add([]byte("name\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		im := &importer{format: "csv", dry: true, batchSize: 2, colMap: map[string]edn.Keyword{}, ids: map[int64]int64{}}
		_ = im.run(bytes.NewReader(b), int64(len(b)))
	})
}
