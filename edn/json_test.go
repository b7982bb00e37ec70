package edn

import (
	"encoding/json"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestToJSON(t *testing.T) {
	in := Map{
		{Keyword("person/name"), "Ann"},
		{Keyword("tags"), Set{Keyword("a")}},
		{"plain", List{int64(1), 1.5, true, nil}},
		{Vector{int64(1)}, Symbol("sym")},
		{Keyword("big"), bigInt("123456789012345678901234567890")},
		{Keyword("dec"), dec("1.50")},
		{Keyword("at"), time.Date(2024, 1, 2, 3, 4, 5, 120e6, time.UTC)},
		{Keyword("id"), uuid.MustParse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")},
		{Keyword("uri"), mustURL("http://x/y")},
		{Keyword("bytes"), []byte("hi")},
		{Keyword("re"), regexp.MustCompile(`a\d`)},
		{Keyword("tagged"), Tagged{"my/tag", int64(1)}},
		{Keyword("char"), Char('x')},
		{Keyword("inf"), math.Inf(-1)},
		{Keyword("nan"), math.NaN()},
		{Keyword("go"), map[string]any{"k": []int{1}}},
	}
	b, err := json.Marshal(ToJSON(in))
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json sorts object keys; the vector key is its EDN text "[1]".
	want := `{":at":"2024-01-02T03:04:05.120Z",":big":123456789012345678901234567890,` +
		`":bytes":"aGk=",":char":"x",":dec":1.50,":go":{"k":[1]},":id":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6",` +
		`":inf":"-Infinity",":nan":"NaN",":person/name":"Ann",":re":"a\\d",":tagged":{"#my/tag":1},` +
		`":tags":[":a"],":uri":"http://x/y","[1]":"sym","plain":[1,1.5,true,null]}`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
}
