package main

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

var exportCmd = &command{
	name:     "export",
	synopsis: "URL [--branch B]",
	summary:  "print the whole log as EDN that import reads back",
	help: `Prints one EDN vector: a header {:accrete/export 1 :schema-on-read BOOL
:basis-t T} and then one map per transaction, oldest first:
{:t T :tx ID :data [[:db/add E :attr V] [:db/retract E :attr V] …]}. E and ref values
are the source database's entity ids; the transaction's own entity is
"datomic.tx", so its metadata and :db/txInstant travel with it. import maps
every id to a tempid (and then to the id it got), so the imported database
answers every query that does not print raw entity ids identically.`,
	run: runExport,
}

// exportVersion is the version of the export format in the header.
const exportVersion = 1

// txTempID is the tempid of the transaction entity (tx.TxTempID).
const txTempID = "datomic.tx"

func runExport(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch of URL (default main)")
	pos, err := c.parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	db, st, err := openDB(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete export: %w", err)
	}
	defer st.Close()
	s := db.Schema()
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	return streamVector(e.stdout, false, func(put func(any) error) error {
		if err := put(edn.Map{
			{Key: kw("accrete/export"), Val: int64(exportVersion)},
			{Key: kw("schema-on-read"), Val: s.SchemaOnRead()},
			{Key: kw("basis-t"), Val: db.BasisT()},
		}); err != nil {
			return err
		}
		var perr error
		err := db.TxRange(ctx, 1, 0, func(info reader.TxInfo) bool {
			perr = put(exportTx(s, info))
			return perr == nil
		})
		if perr != nil {
			return perr
		}
		if err != nil {
			return fmt.Errorf("accrete export: %w", err)
		}
		return nil
	})
}

// exportTx is the export form of one transaction.
func exportTx(s *datom.Schema, info reader.TxInfo) edn.Map {
	data := make(edn.Vector, 0, len(info.Datoms))
	for _, d := range info.Datoms {
		op := edn.Keyword("db/add")
		if !d.Added {
			op = "db/retract"
		}
		var e any = d.E
		if d.E == info.TxID {
			e = txTempID
		}
		data = append(data, edn.Vector{op, e, attrName(s, d.A), d.V})
	}
	return edn.Map{
		{Key: edn.Keyword("t"), Val: info.T},
		{Key: edn.Keyword("tx"), Val: info.TxID},
		{Key: edn.Keyword("data"), Val: data},
	}
}
