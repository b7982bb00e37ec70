package edn

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

const benchQuery = `[:find ?name (count ?friend) (max ?age)
 :keys name friends oldest
 :in $ % [?min-age ...] ?pattern
 :where
 [?e :person/name ?name]
 [?e :person/age ?age]
 [(>= ?age ?min-age)]
 [(re-find ?pattern ?name)]
 (or [?e :person/friend ?friend]
     [?friend :person/friend ?e])
 (not [?e :person/banned true])
 [(get-else $ ?e :person/nickname "none") ?nick]
 (follows ?e ?friend)]`

// benchTx builds a transaction of about size bytes: a vector of entity maps
// of the kind `accrete import` streams.
func benchTx(size int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `{:db/id "p%d" :person/name "Person number %d" :person/email "p%d@example.com" `+
			`:person/age %d :person/score %d.25 :person/balance %d.10M :person/born #inst "1990-01-02T03:04:05.%03dZ" `+
			`:person/id #uuid "f81d4fae-7dec-11d0-a765-%012x" :person/tags #{:tag/a :tag/b} `+
			`:person/friend [:person/email "p%d@example.com"]}`+"\n",
			i, i, i, i%100, i, i, i%1000, i, i/2)
	}
	b.WriteString("]")
	return b.Bytes()
}

func BenchmarkReadQuery(b *testing.B) {
	data := []byte(benchQuery)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadTx1MB(b *testing.B) {
	data := benchTx(1 << 20)
	v, err := Read(data)
	if err != nil {
		b.Fatal(err)
	}
	entities := len(v.(Vector))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(entities)*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
}

// BenchmarkDecodeTx1MB streams the same data as top-level values, the way
// `accrete import` reads an export.
func BenchmarkDecodeTx1MB(b *testing.B) {
	data := benchTx(1 << 20)
	data = data[1 : len(data)-1] // the entity maps as a stream of values
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(data))
		for {
			_, err := d.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkMarshalTx1MB(b *testing.B) {
	data := benchTx(1 << 20)
	v, err := Read(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
