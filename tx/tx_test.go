package tx

import (
	"github.com/accretedb/accrete/edn"
	"testing"
)

func TestSchemaInstalls(t *testing.T) {
	db := newTestDB(t)
	for _, kw := range []string{"person/name", "person/friend", "reg/key"} {
		if db.schema.AttrByIdent(edn.Keyword(kw)) == nil {
			t.Errorf("attribute :%s not installed", kw)
		}
	}
}
