package query

import (
	"fmt"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// newPullTestSchema builds a schema with the built-ins, attrs (installed at
// their given ids, which must be >= MakeID(PartDB, DBReserved)) and the enum
// idents. It returns the schema and every datom describing it, for the
// source to hold too.
func newPullTestSchema(attrs []*datom.Attribute, idents map[datom.ID]edn.Keyword) (*datom.Schema, []datom.Datom) {
	s, ds := datom.Bootstrap(false)
	tx := datom.TxID(1)
	var schemaDatoms []datom.Datom
	add := func(e, a datom.ID, v any) {
		schemaDatoms = append(schemaDatoms, datom.Datom{E: e, A: a, V: v, Tx: tx, Added: true})
	}
	for _, a := range attrs {
		add(a.ID, datom.DBIdent, a.Ident)
		add(a.ID, datom.DBValueType, datom.TypeEntity(a.ValueType))
		card := datom.DBCardinalityOne
		if a.Cardinality == datom.CardinalityMany {
			card = datom.DBCardinalityMany
		}
		add(a.ID, datom.DBCardinality, card)
		switch a.Unique {
		case datom.UniqueValue:
			add(a.ID, datom.DBUnique, datom.DBUniqueValue)
		case datom.UniqueIdentity:
			add(a.ID, datom.DBUnique, datom.DBUniqueIdentity)
		}
		if a.IsComponent {
			add(a.ID, datom.DBIsComponent, true)
		}
	}
	for id, pkw := range idents {
		add(id, datom.DBIdent, pkw)
	}
	s, err := s.Apply(schemaDatoms)
	if err != nil {
		panic(fmt.Sprintf("test schema: %v", err))
	}
	return s, append(ds, schemaDatoms...)
}
