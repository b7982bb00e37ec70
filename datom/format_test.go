package datom

import (
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

func TestFormat(t *testing.T) {
	d := Datom{E: 5, A: 1, V: "a \"b\"", Tx: TxID(2), Added: true}
	if got, want := FormatDatom(d), `#datom[5 1 "a \"b\"" 4398046511106 true]`; got != want {
		t.Errorf("FormatDatom = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{edn.Keyword("a/b"), ":a/b"},
		{big.NewInt(-3), "-3N"},
		{apd.New(15, -1), "1.5M"},
		{time.UnixMilli(1500).UTC(), `#inst "1970-01-01T00:00:01.500Z"`},
		{uuid.UUID{}, `#uuid "00000000-0000-0000-0000-000000000000"`},
		{&url.URL{Scheme: "https", Host: "x.org"}, `#uri "https://x.org"`},
		{[]byte{1, 2}, `#bytes "AQI="`},
		{edn.Vector{int64(1), nil, edn.Symbol("s"), 2.5, false}, "[1 nil s 2.5 false]"},
	} {
		if got := FormatValue(tc.v); got != tc.want {
			t.Errorf("FormatValue(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}
