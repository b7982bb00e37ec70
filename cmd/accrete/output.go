package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
)

// emit writes v to w as one EDN value (or JSON) and a newline. It is the
// only way a command writes its result to stdout.
func emit(w io.Writer, v any, asJSON bool) error {
	var b []byte
	var err error
	if asJSON {
		b, err = json.Marshal(edn.ToJSON(v))
	} else {
		b, err = edn.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("accrete: print result: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("accrete: write result: %w", err)
	}
	return nil
}

// relationValue turns a query result into a printable EDN value: a relation
// becomes a set of vectors sorted by their EDN text (so that output is
// stable), other shapes stay as they are.
func relationValue(res any) any {
	rel, ok := res.(query.Relation)
	if !ok {
		return res
	}
	type row struct {
		key string
		v   edn.Vector
	}
	rows := make([]row, len(rel))
	for i, t := range rel {
		rows[i] = row{key: edn.String(edn.Vector(t)), v: edn.Vector(t)}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
	set := make(edn.Set, len(rows))
	for i, r := range rows {
		set[i] = r.v
	}
	return set
}

// emitRaw writes v as EDN or JSON without a newline.
func emitRaw(w io.Writer, v any, asJSON bool) error {
	var b []byte
	var err error
	if asJSON {
		b, err = json.Marshal(edn.ToJSON(v))
	} else {
		b, err = edn.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("accrete: print result: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("accrete: write result: %w", err)
	}
	return nil
}
