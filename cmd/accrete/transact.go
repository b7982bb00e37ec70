package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/ops"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

var transactCmd = &command{
	name:     "transact",
	synopsis: "URL [TX-EDN | -] [--json] [--branch B]",
	summary:  "commit transaction data given as an argument or on stdin",
	help: `Transaction data is EDN in Datomic's forms ([{:person/name "Ann"}],
[[:db/add "t" :person/name "Ann"]], ...). Without TX-EDN, or with -, it is read
from stdin. With --json the data is JSON: an array of forms or one object;
object keys are attribute keywords (":person/name" or "person/name") and
strings starting with ':' are keywords. The result is also printed as JSON.

Prints {:tx T :tempids {TEMPID ID ...} :datoms N}: the t of the transaction,
how each tempid resolved (keys as given: strings as strings, negative integers
as integers) and how many datoms it asserted or retracted.`,
	run: runTransact,
}

func runTransact(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch to write (default main)")
	asJSON := fs.Bool("json", false, "transaction data (and output) as JSON")
	pos, err := c.parse(e, fs, args, 1, 2)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	if ref.isView() {
		return fmt.Errorf("accrete transact: %s: cannot write to a past or history view", ref.raw)
	}
	var text []byte
	if len(pos) == 1 || pos[1] == "-" {
		if text, err = io.ReadAll(e.stdin); err != nil {
			return fmt.Errorf("accrete transact: read stdin: %w", err)
		}
	} else {
		text = []byte(pos[1])
	}
	data, err := parseTxData(text, *asJSON)
	if err != nil {
		return fmt.Errorf("accrete transact: %w", err)
	}
	if forms, err := reader.TxForms(data); err == nil {
		for i, f := range forms {
			if ops.IsPurgeForm(f) {
				return fmt.Errorf("accrete transact: form %d %s: purge forms rewrite history; use accrete purge", i, edn.String(f))
			}
		}
	}
	w, closeW, err := openWriter(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete transact: %w", err)
	}
	rep, err := w.Transact(ctx, data)
	cerr := closeW()
	if err != nil {
		return fmt.Errorf("accrete transact: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("accrete transact: close: %w", cerr)
	}
	return emit(e.stdout, reportValue(rep), *asJSON)
}

// parseTxData reads transaction data as EDN or JSON into forms for
// writer.Transact.
func parseTxData(text []byte, asJSON bool) (any, error) {
	if asJSON {
		return jsonTxData(text)
	}
	v, err := edn.Read(text)
	if err != nil {
		return nil, fmt.Errorf("transaction data: %w", err)
	}
	switch v.(type) {
	case edn.Vector, edn.List:
		return v, nil
	case edn.Map:
		return edn.Vector{v}, nil
	}
	return nil, fmt.Errorf("transaction data must be a vector of forms, got %s", edn.String(v))
}

// openWriter opens a writer on an existing database, without creating a
// directory for a mistyped file URL. closeFn closes the writer (after its
// queued transactions commit) and then the store.
func openWriter(ctx context.Context, ref dbRef) (w *writer.Writer, closeFn func() error, err error) {
	st, err := openStore(ctx, ref, true)
	if err != nil {
		return nil, nil, err
	}
	w, err = writer.OpenStore(ctx, st, &writer.Options{Branch: ref.branch})
	if err != nil {
		st.Close()
		if errors.Is(err, reader.ErrNoDatabase) || errors.Is(err, branch.ErrNoBranch) {
			return nil, nil, fmt.Errorf("no database at %s", ref)
		}
		return nil, nil, fmt.Errorf("open %s: %w", ref, err)
	}
	return w, func() error { return errors.Join(w.Close(), st.Close()) }, nil
}

// reportValue is the printed form of a transaction report.
func reportValue(rep *reader.Report) edn.Map {
	tempids := make(edn.Map, 0, rep.TempIDs.Len())
	for k, id := range rep.TempIDs.All() {
		tempids = append(tempids, edn.MapEntry{Key: k, Val: id})
	}
	sort.Slice(tempids, func(i, j int) bool { return edn.String(tempids[i].Key) < edn.String(tempids[j].Key) })
	return edn.Map{
		{Key: edn.Keyword("tx"), Val: rep.T},
		{Key: edn.Keyword("tempids"), Val: tempids},
		{Key: edn.Keyword("datoms"), Val: int64(len(rep.TxData))},
	}
}
