package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/accretedb/accrete/reader"
)

var watchCmd = &command{
	name:     "watch",
	synopsis: "URL [--from T] [--interval D] [--json]",
	summary:  "print each new transaction as it lands, until interrupted",
	help: `Polls the branch head (a conditional read; cheap when nothing changed) and
prints one line per transaction, {:t T :tx ID :instant #inst "…" :data [...]},
as log does, flushing each line. With --from T it first prints the transactions
after t T already in the log. It runs until interrupted (exit 0) and says on
stderr when it is watching.`,
	run: runWatch,
}

func runWatch(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch to watch (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	from := fs.Int64("from", -1, "first print the transactions after `t`")
	interval := fs.Duration("interval", 0, "poll interval (default 200ms)")
	pos, err := c.parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	if *interval < 0 {
		return usagef("accrete watch: --interval must not be negative")
	}
	db, st, err := openDB(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete watch: %w", err)
	}
	defer st.Close()
	print := func(s *reader.DB, info reader.TxInfo) error {
		if err := emit(e.stdout, txValue(s.Schema(), info), *asJSON); err != nil {
			return err
		}
		return e.flush()
	}
	if *from >= 0 {
		var perr error
		err := db.TxRange(ctx, *from+1, db.BasisT()+1, func(info reader.TxInfo) bool {
			perr = print(db, info)
			return perr == nil
		})
		if err = errors.Join(perr, err); err != nil {
			return fmt.Errorf("accrete watch: %w", err)
		}
	}
	fmt.Fprintf(e.stderr, "accrete watch: watching %s after t %d\n", ref, db.BasisT())
	err = reader.Watch(ctx, st, &reader.WatchOptions{Branch: ref.branch, Interval: *interval, From: db},
		func(ndb *reader.DB, txs []reader.TxInfo) error {
			for _, info := range txs {
				if err := print(ndb, info); err != nil {
					return err
				}
			}
			return nil
		})
	if ctx.Err() != nil {
		return nil // interrupted: the normal way to stop
	}
	return fmt.Errorf("accrete watch: %w", err)
}
