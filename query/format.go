package query

import (
	"fmt"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"

	"github.com/accretedb/accrete/edn"
)

// qString prints v as EDN text for error messages and plans. It is a
// small printer of its own so that error paths never depend on another
// package's printer.
func qString(v any) string {
	var b strings.Builder
	qWrite(&b, v)
	return b.String()
}

func qWrite(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("nil")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		switch {
		case x != x:
			b.WriteString("##NaN")
		case math.IsInf(x, 1):
			b.WriteString("##Inf")
		case math.IsInf(x, -1):
			b.WriteString("##-Inf")
		default:
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eEn") {
				s += ".0"
			}
			b.WriteString(s)
		}
	case *big.Int:
		b.WriteString(x.String() + "N")
	case *apd.Decimal:
		b.WriteString(x.String() + "M")
	case string:
		b.WriteString(strconv.Quote(x))
	case edn.Keyword:
		b.WriteString(x.String())
	case edn.Symbol:
		b.WriteString(string(x))
	case edn.Char:
		b.WriteString(`\` + string(rune(x)))
	case time.Time:
		b.WriteString(`#inst "` + x.UTC().Format("2006-01-02T15:04:05.000Z") + `"`)
	case uuid.UUID:
		b.WriteString(`#uuid "` + x.String() + `"`)
	case *url.URL:
		b.WriteString(`#uri "` + x.String() + `"`)
	case *regexp.Regexp:
		b.WriteString(`#"` + strings.ReplaceAll(x.String(), `"`, `\"`) + `"`)
	case edn.List:
		qWriteSeq(b, "(", ")", x)
	case edn.Vector:
		qWriteSeq(b, "[", "]", x)
	case []any:
		qWriteSeq(b, "[", "]", x)
	case edn.Set:
		qWriteSeq(b, "#{", "}", x)
	case edn.Map:
		b.WriteString("{")
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			qWrite(b, e.Key)
			b.WriteString(" ")
			qWrite(b, e.Val)
		}
		b.WriteString("}")
	case Relation:
		b.WriteString("#{")
		for i, t := range x {
			if i > 0 {
				b.WriteString(" ")
			}
			qWriteSeq(b, "[", "]", t)
		}
		b.WriteString("}")
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

func qWriteSeq(b *strings.Builder, open, close string, xs []any) {
	b.WriteString(open)
	for i, x := range xs {
		if i > 0 {
			b.WriteString(" ")
		}
		qWrite(b, x)
	}
	b.WriteString(close)
}

// qReadEDN reads one EDN value: queries and rules given as text.
func qReadEDN(text string) (any, error) { return edn.Read([]byte(text)) }
