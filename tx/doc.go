// Package tx gives a transaction its meaning: it expands transaction data
// against a database snapshot into the datoms to add and retract.
//
// Apply takes transaction data in Datomic's forms, as already-parsed EDN
// values (edn.Vector, edn.Map, edn.Keyword, …): [:db/add e a v],
// [:db/retract e a v], [:db/retract e a], map forms with nested maps,
// reverse refs and cardinality-many collections, tempids (strings and
// negative integers), lookup refs, idents, upserts through
// :db.unique/identity, :db/retractEntity, :db/cas, transaction functions
// written in Go (Options.Funcs) and transaction metadata through the tempid
// "datomic.tx". It returns a Result holding the datoms the transaction
// asserts and retracts, the current datoms the retractions remove (with
// their original transaction), the resolved tempids, the id counters and the
// schema after the transaction.
//
// What tx is not: it does no storage and no I/O of its own. It reads the
// database value before the transaction through the small Snapshot
// interface, and the caller (the writer, or a reader's speculative With)
// stores or overlays the Result. It does not decide the transaction's t or
// keep :db/txInstant monotonic; the caller passes both in Input.
//
// # Semantics
//
// Everything is evaluated against the snapshot before the transaction, as in
// Datomic: lookup refs, idents, :db/cas and transaction functions see the
// database before; attributes and idents installed by a transaction are
// usable from the next one. Forms are unordered: the order of the data only
// fixes the order in which new entity ids are allocated.
//
//   - T1 (all or nothing): Apply returns either a Result or an error, never
//     both; an invalid transaction changes nothing.
//   - T2 (elision): an assertion already true in the snapshot is dropped; a
//     retraction of a fact that is not true is dropped.
//   - T3 (cardinality one): asserting a new value of a cardinality-one
//     attribute retracts the current one; two different values for one
//     entity and attribute in one transaction fail (ErrCardinalityConflict).
//   - T4 (no contradiction): one transaction may not assert and explicitly
//     retract the same fact (ErrConflict). Retractions that are implied
//     ([:db/retract e a], :db/retractEntity, T3) skip facts the transaction
//     asserts.
//   - T5 (tempids): every tempid that appears as an entity resolves to one
//     id: an existing entity when it asserts an existing :db.unique/identity
//     value (upsert), the same new entity as any other tempid asserting the
//     same new identity value, else a fresh id (partition PartDB if the entity
//     asserts :db/ident, PartUser otherwise), allocated in order of first
//     appearance. A tempid used only as a value fails (ErrTempID).
//   - T6 (composite tuples): when a component of a :db/tupleAttrs attribute
//     changes on an entity, the tuple is re-asserted from the entity's values
//     after the transaction (nil for absent components) and retracted when
//     every component is absent. Users may not assert composite tuples.
//   - T7 (schema-on-read): when Schema().SchemaOnRead() is true an undeclared
//     attribute keyword is installed on first use as a cardinality-one
//     attribute in PartDB with no value type ([id :db/ident kw] and
//     [id :db/cardinality :db.cardinality/one] are part of Result.Datoms);
//     values of such attributes are typed by themselves (datom.TypeOf).
//     Declared attributes are enforced as usual. Keywords in the :db
//     namespace and names starting with "_" (reverse refs) are never
//     installed this way.
//   - T8 (schema): schema entities are data. A new entity asserting
//     :db/ident goes to PartDB; :db/ident is a unique identity, so
//     re-transacting a schema map upserts and changes nothing. The schema
//     after the transaction comes from datom.Schema.Apply; when it tightens
//     an existing attribute (datom.Schema.ChangedConstraints: cardinality
//     many to one, :db/unique added) Apply checks the data after the
//     transaction and fails with ErrSchema (and ErrCardinalityConflict or
//     ErrUniqueConflict) if it does not fit. Attributes and idents
//     installed by a transaction are usable from the next one.
//
// Result.Datoms is sorted by entity, attribute, value (datom.CompareValues)
// and retractions before assertions, so equal inputs give equal outputs.
//
// # Errors
//
// Every error Apply returns for invalid data is an *Error naming the
// offending form (its index in data and its EDN text; Index -1 and a datom
// form for facts the transaction implies, such as composite tuples);
// errors.Is sees the sentinel inside it (ErrUnknownAttribute, ErrWrongType,
// …). Errors from the Snapshot and from ctx are returned wrapped, also
// through *Error. A panic in a transaction function is recovered and
// returned as ErrTxFunc: functions are user code and must not take the
// writer down.
//
// # Concurrency and lifetimes
//
// Apply is safe to call concurrently as long as the Snapshot is; it keeps no
// state between calls that a result depends on (scratch buffers go back to
// a pool, emptied; consecutive transactions with equal instants share one
// boxed :db/txInstant value, which is immutable). Transaction functions are called synchronously, from
// the goroutine running Apply. The Result and everything in it belong to the
// caller; Apply does not retain data, the input forms or the Result. Values
// in Result.Datoms may share memory with the input forms (strings, byte
// slices): do not mutate the input after Apply.
package tx
