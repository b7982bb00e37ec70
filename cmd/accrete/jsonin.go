package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/accretedb/accrete/edn"
)

// jsonTxData reads transaction data written as JSON: an array of forms or a
// single entity object.
func jsonTxData(text []byte) (any, error) {
	v, err := decodeJSON(text)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case edn.Vector:
		return v, nil
	case edn.Map:
		return edn.Vector{v}, nil
	}
	return nil, fmt.Errorf("JSON transaction data must be an array of forms or an object")
}

// decodeJSON decodes exactly one JSON value into EDN values (see fromJSON).
func decodeJSON(text []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("JSON: more than one value")
	}
	return fromJSON(raw, false)
}

// fromJSON maps a decoded JSON value to EDN: objects to maps with keyword
// keys (a leading ':' is optional), arrays to vectors, integers to int64,
// other numbers to float64, and strings that start with ':' to keywords.
func fromJSON(v any, isKey bool) (any, error) {
	switch v := v.(type) {
	case nil, bool:
		return v, nil
	case string:
		if isKey {
			k := strings.TrimPrefix(v, ":")
			if !validKeyword(k) {
				return nil, fmt.Errorf("JSON: key %q cannot name an attribute", v)
			}
			return edn.Keyword(k), nil
		}
		if len(v) > 1 && v[0] == ':' && validKeyword(v[1:]) {
			return edn.Keyword(v[1:]), nil
		}
		return v, nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("JSON: number %s: %w", v, err)
		}
		return f, nil
	case []any:
		out := make(edn.Vector, len(v))
		for i, x := range v {
			y, err := fromJSON(x, false)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		// In a list form [":db/add", e, "ns/attr", v] the attribute is a
		// keyword even when written without its colon.
		if len(out) >= 3 {
			if _, ok := out[0].(edn.Keyword); ok {
				if a, ok := out[2].(string); ok && validKeyword(strings.TrimPrefix(a, ":")) {
					out[2] = edn.Keyword(strings.TrimPrefix(a, ":"))
				}
			}
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			return strings.Compare(strings.TrimPrefix(a, ":"), strings.TrimPrefix(b, ":"))
		})
		out := make(edn.Map, 0, len(v))
		for _, k := range keys {
			kv, err := fromJSON(k, true)
			if err != nil {
				return nil, err
			}
			val, err := fromJSON(v[k], false)
			if err != nil {
				return nil, err
			}
			out = append(out, edn.MapEntry{Key: kv, Val: val})
		}
		return out, nil
	}
	return nil, fmt.Errorf("JSON: unexpected %T", v)
}

// validKeyword reports whether s (without its colon) prints as an EDN
// keyword that reads back as itself.
func validKeyword(s string) bool {
	_, err := edn.Marshal(edn.Keyword(s))
	return s != "" && err == nil
}
