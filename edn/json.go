package edn

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// ToJSON converts an EDN value to values encoding/json can marshal, for
// the command line's --json output. The mapping loses type distinctions
// JSON cannot hold; it is meant for output, not for round trips:
//
//	nil, bool, string         themselves
//	int64                     int64
//	*big.Int                  json.Number (exact digits)
//	float64                   float64; NaN, +Inf, -Inf as the strings "NaN", "Infinity", "-Infinity"
//	*apd.Decimal              json.Number (exact digits); non-finite as strings like float64
//	Keyword                   ":ns/name" (with its colon)
//	Symbol                    "ns/name"
//	Char                      one-character string
//	List, Vector, Set         []any
//	Map                       map[string]any; string keys as they are, keyword keys as ":k",
//	                          other keys as their EDN text (String); later keys that
//	                          stringify alike overwrite earlier ones
//	time.Time                 RFC 3339 string in UTC, as #inst prints it ("2024-01-02T03:04:05.123Z")
//	uuid.UUID, *url.URL       their canonical string
//	[]byte                    standard base64 string
//	*regexp.Regexp            its pattern string
//	Tagged                    map[string]any{"#tag": value}
//
// Go values Marshal accepts (int, []any, map[string]any, …) are converted as
// the EDN values they print as. Values with no EDN form become their %v text
// (via String).
func ToJSON(v any) any {
	switch x := canon(v).(type) {
	case nil:
		return nil
	case bool:
		return x
	case int64:
		return x
	case *big.Int:
		return json.Number(x.String())
	case float64:
		return jsonFloat(x)
	case *apd.Decimal:
		switch {
		case x.Form == apd.Finite:
			return json.Number(x.String())
		case x.Form == apd.Infinite && x.Negative:
			return "-Infinity"
		case x.Form == apd.Infinite:
			return "Infinity"
		}
		return "NaN"
	case string:
		return x
	case Keyword:
		return x.String()
	case Symbol:
		return string(x)
	case Char:
		return string(rune(x))
	case List:
		return jsonSlice(x)
	case Vector:
		return jsonSlice(x)
	case Set:
		return jsonSlice(x)
	case Map:
		out := make(map[string]any, len(x))
		for _, e := range x {
			out[jsonKey(e.Key)] = ToJSON(e.Val)
		}
		return out
	case time.Time:
		var p printer
		if err := p.inst(x); err != nil {
			return x.UTC().Format(time.RFC3339Nano)
		}
		// Strip `#inst "` and the closing quote.
		return string(p.buf[len(`#inst "`) : len(p.buf)-1])
	case uuid.UUID:
		return x.String()
	case *url.URL:
		return x.String()
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case *regexp.Regexp:
		return x.String()
	case Tagged:
		return map[string]any{"#" + string(x.Tag): ToJSON(x.Value)}
	}
	return String(v)
}

func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

func jsonSlice(xs []any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = ToJSON(x)
	}
	return out
}

func jsonKey(k any) string {
	switch x := canon(k).(type) {
	case string:
		return x
	case Keyword:
		return x.String()
	}
	return String(k)
}
