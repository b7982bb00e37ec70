// Package datom defines accrete's facts and everything needed to store and
// order them: datoms and their ids, value types and the total order of
// values, the sort orders of the indices, the compact node encoding of
// datoms, and the schema (attributes and idents) derived from schema datoms.
//
// It is the vocabulary shared by the writer, the readers and the query
// engine. It is not an index (pss keeps datoms sorted), not a transaction
// processor (tempids, lookup refs, upserts and the data checks of schema
// changes belong to the writer) and does no I/O.
//
// # Values and their order
//
// A datom's V holds one of the Go types listed on ValueType. CompareValues
// is a total order over all values (its comment gives the rules: values of
// different types order by ValueType number; strings compare as UTF-8 bytes,
// not as Java's UTF-16). AppendValueKey gives each value an order-preserving
// byte key. Coerce and CoerceJSON turn transacted Go or JSON values into the
// canonical representation and report type mismatches as *TypeError.
//
// # Indices
//
// CompareEAVT, CompareAEVT, CompareAVET, CompareVAET and CompareTEAV are the
// sort orders of Datomic's four covering indices and of the transaction log:
// the fields in the order of the name, then tx, then Added (retraction
// first). The order is part of the storage format: Codec(idx).ID() names it
// and the node package refuses nodes written under another order.
//
// # Encoding (format version 1)
//
// One datom is a msgpack array whose length is the number of msgpack
// objects that follow:
//
//	[e-part, e-n, a, tag, value…, tx-part, tx-n, added]
//
// Entity and transaction ids are split into partition and n (id =
// part<<PartShift | n) so that both are small msgpack ints (2 to 6 bytes for
// typical ids instead of 9); a is a plain int. tag is the ValueType of V and
// value is one or more objects:
//
//	boolean  bool                  long     int
//	ref      int part, int n       bigint   bool negative, bin magnitude
//	double   float64               bigdec   bool negative, int exponent, bin coefficient
//	instant  int ms since epoch    uuid     bin(16)
//	string, keyword ("ns/name"), symbol, uri  str          bytes  bin
//	tuple    array of the objects of its elements, each tag + value (tag 0: nil)
//
// An int64 V is written with the ref tag when its partition is 1..255 (the
// shorter form) and with the long tag otherwise; both decode to int64.
// Encoding is deterministic (always the smallest msgpack int, string, bin
// and array forms). Decoding checks every field and accepts only canonical
// representation choices — ids in range, the ref form exactly for
// partitions 1..255, big numbers without leading zero bytes, uris that print
// back to the same text, 2..8 non-tuple tuple elements — though it does
// accept msgpack integers and lengths wider than needed. Instants must have
// millisecond precision, and V must be in its canonical Go type (Coerce
// first), else encoding fails with ErrUnencodable.
//
// Codec(idx) returns an *IndexCodec, which implements node.KeyCodec[Datom]
// (this package does not import node, so that it builds on its own).
// AppendDatom and DecodeDatom expose the same encoding on byte slices.
// EncodeDatoms writes a version byte (1) and a msgpack array of datoms, the
// transaction log tail. MarshalSchema writes a version byte (1) and the
// schema (layout on MarshalSchema).
//
// # Schema
//
// Schema is immutable; Schema.Apply returns the schema after a transaction.
// Built-in entities have fixed ids below MakeID(PartDB, DBReserved); those
// ids are part of the format. Bootstrap returns the initial schema and the
// datoms of transaction 0.
//
// # Concurrency and lifetimes
//
// Everything here is safe for concurrent use: functions are pure, and
// Schema and Attribute values are immutable once returned (callers MUST NOT
// modify them, nor the values inside datoms they did not create). Decoded
// datoms own their memory: nothing aliases the input buffer.
package datom
