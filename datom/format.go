package datom

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// FormatDatom formats d as Datomic prints a datom, for errors and logs:
// #datom[e a v tx added], with V as FormatValue writes it. (Datom has no
// String method on purpose: adding one would change how every %v of a
// datom prints.)
func FormatDatom(d Datom) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#datom[%d %d ", d.E, d.A)
	writeValue(&b, d.V)
	fmt.Fprintf(&b, " %d %t]", d.Tx, d.Added)
	return b.String()
}

// FormatValue returns v in EDN-like notation: strings quoted, keywords with
// their colon, instants as #inst, uuids as #uuid, uris as #uri, bytes as
// #bytes (base64), tuples as vectors. It is for messages, not a printer
// that round-trips (use the edn package for that).
func FormatValue(v any) string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("nil")
	case string:
		b.WriteString(strconv.Quote(x))
	case edn.Keyword:
		b.WriteString(x.String())
	case *big.Int:
		b.WriteString(bigOrZero(x).String())
		b.WriteByte('N')
	case *apd.Decimal:
		if x == nil {
			b.WriteString("0M")
			return
		}
		b.WriteString(x.String())
		b.WriteByte('M')
	case time.Time:
		b.WriteString(`#inst "` + x.UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`)
	case uuid.UUID:
		b.WriteString(`#uuid "` + x.String() + `"`)
	case *url.URL:
		b.WriteString(`#uri ` + strconv.Quote(urlString(x)))
	case []byte:
		b.WriteString(`#bytes "` + base64.StdEncoding.EncodeToString(x) + `"`)
	case edn.Vector, []any:
		t, _ := asTuple(v)
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, v)
	}
}
