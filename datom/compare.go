package datom

// The index orders. Each compares the datom fields in the order its name
// spells, then the transaction, then Added (retraction before assertion), so
// every order is total over distinct datoms and an index may hold the
// assertion and the retraction of one fact by different transactions side
// by side (the history index does). V is compared with CompareValues.
//
// They are the hot path of every index operation: integers are compared
// first, and int64 and string values take a fast path, without allocating.

// CompareEAVT orders by entity, attribute, value, tx, added.
func CompareEAVT(a, b Datom) int {
	if a.E != b.E {
		return cmpID(a.E, b.E)
	}
	if a.A != b.A {
		return cmpID(a.A, b.A)
	}
	if c := CompareValues(a.V, b.V); c != 0 {
		return c
	}
	return cmpTxAdded(a, b)
}

// CompareAEVT orders by attribute, entity, value, tx, added.
func CompareAEVT(a, b Datom) int {
	if a.A != b.A {
		return cmpID(a.A, b.A)
	}
	if a.E != b.E {
		return cmpID(a.E, b.E)
	}
	if c := CompareValues(a.V, b.V); c != 0 {
		return c
	}
	return cmpTxAdded(a, b)
}

// CompareAVET orders by attribute, value, entity, tx, added.
func CompareAVET(a, b Datom) int {
	if a.A != b.A {
		return cmpID(a.A, b.A)
	}
	if c := CompareValues(a.V, b.V); c != 0 {
		return c
	}
	if a.E != b.E {
		return cmpID(a.E, b.E)
	}
	return cmpTxAdded(a, b)
}

// CompareVAET orders by value, attribute, entity, tx, added. Datomic keeps
// only ref datoms in VAET (the reverse index); the order itself accepts any
// value.
func CompareVAET(a, b Datom) int {
	if c := CompareValues(a.V, b.V); c != 0 {
		return c
	}
	if a.A != b.A {
		return cmpID(a.A, b.A)
	}
	if a.E != b.E {
		return cmpID(a.E, b.E)
	}
	return cmpTxAdded(a, b)
}

// CompareTEAV orders by tx, entity, attribute, value, added: the
// transaction log.
func CompareTEAV(a, b Datom) int {
	if a.Tx != b.Tx {
		return cmpID(a.Tx, b.Tx)
	}
	if a.E != b.E {
		return cmpID(a.E, b.E)
	}
	if a.A != b.A {
		return cmpID(a.A, b.A)
	}
	if c := CompareValues(a.V, b.V); c != 0 {
		return c
	}
	return cmpAdded(a.Added, b.Added)
}

// Comparator returns the order of idx, or nil for an unknown index.
func Comparator(idx Index) func(a, b Datom) int {
	switch idx {
	case EAVT:
		return CompareEAVT
	case AEVT:
		return CompareAEVT
	case AVET:
		return CompareAVET
	case VAET:
		return CompareVAET
	case TEAV:
		return CompareTEAV
	}
	return nil
}

func cmpID(a, b ID) int {
	if a < b {
		return -1
	}
	return 1
}

func cmpTxAdded(a, b Datom) int {
	if a.Tx != b.Tx {
		return cmpID(a.Tx, b.Tx)
	}
	return cmpAdded(a.Added, b.Added)
}

func cmpAdded(a, b bool) int {
	if a == b {
		return 0
	}
	if !a {
		return -1
	}
	return 1
}
