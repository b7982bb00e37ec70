package edn_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/accretedb/accrete/edn"
)

func ExampleRead() {
	v, err := edn.ReadString(`[:find ?e . :where [?e :person/name "Ann"]]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	q := v.(edn.Vector)
	fmt.Printf("%d forms; first %T %v; second %T %v\n", len(q), q[0], q[0], q[1], q[1])
	// Output: 5 forms; first edn.Keyword :find; second edn.Symbol ?e
}

func ExampleSyntaxError() {
	_, err := edn.ReadString("{:a 1\n :a 2}")
	var se *edn.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Line, se.Col, se.Msg)
	}
	fmt.Println(err)
	// Output:
	// 2 2 duplicate map key :a
	// edn: line 2, col 2: duplicate map key :a
}

func ExampleMarshal() {
	b, err := edn.Marshal(map[edn.Keyword]any{
		"person/name": "Ann",
		"person/age":  42,
		"person/tags": edn.Set{edn.Keyword("admin")},
		"score":       1.0,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output: {:person/age 42, :person/name "Ann", :person/tags #{:admin}, :score 1.0}
}

func ExampleDecoder() {
	d := edn.NewDecoder(strings.NewReader(`[:db/add 1 :a 1] ; comment
[:db/add 2 :a 2]`))
	for {
		v, err := d.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(edn.String(v))
	}
	// Output:
	// [:db/add 1 :a 1]
	// [:db/add 2 :a 2]
}

func ExampleEqual() {
	a, _ := edn.ReadString(`{:n 1, :s #{1 2}}`)
	b, _ := edn.ReadString(`{:s #{2 1}, :n 1N}`)
	c, _ := edn.ReadString(`{:s #{2 1}, :n 1.0}`)
	fmt.Println(edn.Equal(a, b), edn.Equal(a, c))
	// Output: true false
}

func ExampleToJSON() {
	v, _ := edn.ReadString(`{:person/name "Ann" :born #inst "1990-01-02T03:04:05.120Z" :tags #{:a}}`)
	b, _ := json.Marshal(edn.ToJSON(v))
	fmt.Println(string(b))
	// Output: {":born":"1990-01-02T03:04:05.120Z",":person/name":"Ann",":tags":[":a"]}
}
