package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/accretedb/accrete/edn"
)

// errData marks a data file that is not the workload's JSON.
var errData = errors.New("accrete-bench: bad workload data")

// rng is the workload's PRNG, mulberry32 (README §1, workload.js): its
// stream must match bit for bit, because retract-5 shuffles with it.
type rng uint32

func (r *rng) next() uint32 {
	*r += 0x6D2B79F5
	t := uint32(*r)
	t = (t ^ t>>15) * (t | 1)
	t ^= t + (t^t>>7)*(t|61)
	return t ^ t>>14
}

// intn is randInt(n) = floor(u32 * n / 2^32).
func (r *rng) intn(n int) int { return int((uint64(r.next()) * uint64(n)) >> 32) }

// shuffle is workload.js's Fisher-Yates, from the end.
func shuffle[T any](r *rng, xs []T) {
	for i := len(xs) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		xs[i], xs[j] = xs[j], xs[i]
	}
}

// attrVal is one attribute of a JSON entity, in file order.
type attrVal struct {
	name string // JSON key: "name", "last-name", "follows", …
	v    any    // string, int64, float64, bool or []any of those
}

// entity is one entity map of the workload's JSON: its ":db/id" (a tempid
// string, or an integer id in the long-db sets) and its attributes in file
// order, which is the order DataScript sees them in.
type entity struct {
	id    any // string or int64; nil when the map has no :db/id
	attrs []attrVal
}

// tempid returns the entity's :db/id as a tempid string: accrete, like
// Datomic, accepts only ids it allocated, so the long-db sets' explicit
// integer ids become tempids with the same digits (same grouping of facts
// into entities, within one transaction).
func (e *entity) tempid() string { return idString(e.id) }

func idString(id any) string {
	switch x := id.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(id)
}

// get returns the value of attribute name, if present.
func (e *entity) get(name string) (any, bool) {
	for _, a := range e.attrs {
		if a.name == name {
			return a.v, true
		}
	}
	return nil, false
}

// classic drops full-name and alias, as workload.js's classic(p).
func (e entity) classic() entity {
	out := entity{id: e.id}
	for _, a := range e.attrs {
		if a.name != "full-name" && a.name != "alias" {
			out.attrs = append(out.attrs, a)
		}
	}
	return out
}

// refAttrs are the workload's ref attributes: their values name entities
// (tempids) rather than being literal values.
var refAttrs = map[string]bool{"follows": true}

// txMap turns the entity into the map form of a transaction, as
// d.db_with receives it: {:db/id tempid, :attr value …}, arrays as vectors
// (cardinality-many), ref values as tempids.
func (e *entity) txMap() edn.Map {
	m := make(edn.Map, 0, len(e.attrs)+1)
	if e.id != nil {
		m = append(m, edn.MapEntry{Key: edn.Keyword("db/id"), Val: e.tempid()})
	}
	for _, a := range e.attrs {
		v := a.v
		if refAttrs[a.name] {
			v = refValue(v)
		}
		if xs, ok := v.([]any); ok {
			v = edn.Vector(xs)
		}
		m = append(m, edn.MapEntry{Key: edn.Keyword(a.name), Val: v})
	}
	return m
}

func refValue(v any) any {
	if xs, ok := v.([]any); ok {
		out := make([]any, len(xs))
		for i, x := range xs {
			out[i] = idString(x)
		}
		return out
	}
	return idString(v)
}

// txData is a list of entities as one transaction's data.
func txData(es []entity) edn.Vector {
	out := make(edn.Vector, len(es))
	for i := range es {
		out[i] = es[i].txMap()
	}
	return out
}

// loadPeople reads people-20k.json: a JSON array of entity maps. As
// bench.js does, it generates the data when the file does not exist.
func loadPeople(path string) ([]entity, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return genPeople(20000, peopleSeed), nil
	}
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: people: %w", err)
	}
	es, err := parseEntities(data)
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: people %s: %w", path, err)
	}
	return es, nil
}

// loadAux reads aux-datasets.json: an object of named entity arrays,
// generated when the file does not exist.
func loadAux(path string) (map[string][]entity, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return genAux(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: aux: %w", err)
	}
	out, err := parseAux(data)
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: aux %s: %w", path, err)
	}
	return out, nil
}

// parseEntities decodes a JSON array of entity maps, keeping key order.
func parseEntities(data []byte) ([]entity, error) {
	v, err := decodeOrdered(data)
	if err != nil {
		return nil, err
	}
	return toEntities(v)
}

// parseAux decodes an object whose values are arrays of entity maps.
func parseAux(data []byte) (map[string][]entity, error) {
	v, err := decodeOrdered(data)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(object)
	if !ok {
		return nil, fmt.Errorf("%w: top level is %T, want an object", errData, v)
	}
	out := make(map[string][]entity, len(obj))
	for _, kv := range obj {
		es, err := toEntities(kv.v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", kv.name, err)
		}
		out[kv.name] = es
	}
	return out, nil
}

func toEntities(v any) ([]entity, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: got %T, want an array of objects", errData, v)
	}
	out := make([]entity, 0, len(arr))
	for i, x := range arr {
		obj, ok := x.(object)
		if !ok {
			return nil, fmt.Errorf("%w: element %d is %T, want an object", errData, i, x)
		}
		var e entity
		for _, kv := range obj {
			if kv.name == ":db/id" {
				switch kv.v.(type) {
				case string, int64:
				default:
					return nil, fmt.Errorf("%w: element %d: :db/id %v is neither a string nor an integer", errData, i, kv.v)
				}
				e.id = kv.v
				continue
			}
			if _, isObj := kv.v.(object); isObj {
				return nil, fmt.Errorf("%w: element %d: %q holds an object", errData, i, kv.name)
			}
			if xs, isArr := kv.v.([]any); isArr {
				for _, x := range xs {
					switch x.(type) {
					case object, []any, nil:
						return nil, fmt.Errorf("%w: element %d: %q holds a nested %T", errData, i, kv.name, x)
					}
				}
			}
			if kv.v == nil {
				return nil, fmt.Errorf("%w: element %d: %q is null", errData, i, kv.name)
			}
			e.attrs = append(e.attrs, attrVal{name: kv.name, v: kv.v})
		}
		out = append(out, e)
	}
	return out, nil
}

// object is a decoded JSON object with its keys in file order (Go maps
// would lose the order, and the order of first appearance decides how
// tempids are numbered).
type object []attrVal

// decodeOrdered decodes one JSON value: objects as object, arrays as []any,
// integers as int64, other numbers as float64.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, &interner{keys: map[string]string{}, vals: map[any]any{}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errData, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the top-level value", errData)
	}
	return v, nil
}

// interner shares one copy of each key and of each string and integer
// value among the decoded entities. The people repeat a few dozen names,
// and the decoded workload stays alive for the whole run: a copy per
// occurrence made it most of the process's objects (870,000 of them, the
// datoms' values among them), all of which every garbage collection of
// every bench marks, on top of the database it measures.
type interner struct {
	keys map[string]string
	vals map[any]any
}

func (in *interner) key(k string) string {
	if s, ok := in.keys[k]; ok {
		return s
	}
	in.keys[k] = k
	return k
}

// val returns the boxed value equal to v shared by earlier calls (v is a
// string or an int64).
func (in *interner) val(v any) any {
	if x, ok := in.vals[v]; ok {
		return x
	}
	in.vals[v] = v
	return v
}

func decodeValue(dec *json.Decoder, in *interner) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			out := []any{}
			for dec.More() {
				v, err := decodeValue(dec, in)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return out, nil
		case '{':
			out := object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := decodeValue(dec, in)
				if err != nil {
					return nil, err
				}
				out = append(out, attrVal{name: in.key(k), v: v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return out, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return in.val(n), nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", t, err)
		}
		return f, nil
	case string:
		return in.val(t), nil
	default: // bool, nil
		return t, nil
	}
}
