package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/ops"
)

var syncCmd = &command{
	name:     "sync",
	synopsis: "SRC DST [--branch B] [--force] [--json]",
	summary:  "copy branches to another bucket, sending only the nodes it lacks",
	help: `Copies every branch of SRC (or only branch B, given by --branch or branch= in
SRC) to DST, on any backends, under the same branch name. Only nodes DST lacks
are sent: a walk stops at any subtree DST already has. DST's head moves last,
so an interrupted sync leaves DST on its old head, and a rerun resumes. A DST
head that is not an ancestor of SRC's head is refused unless --force (the
commits only DST had are then left for gc).

Prints {:nodes N :bytes N :commits N :heads N :branches N :skipped N
:history-ends N}: :nodes and :bytes are what was sent (commits included),
:heads the DST heads created or moved, :skipped the subtrees found present.`,
	run: runSync,
}

func runSync(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "copy only this branch (default: every branch)")
	force := fs.Bool("force", false, "move DST heads that are not ancestors of SRC's")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	pos, err := c.parse(e, fs, args, 2, 2)
	if err != nil {
		return err
	}
	src, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	dst, err := parseDBRef(pos[1], "")
	if err != nil {
		return err
	}
	for _, r := range []dbRef{src, dst} {
		if r.asOf != "" || r.since != "" || r.history {
			return fmt.Errorf("accrete sync: %s: sync copies branch heads (remove as-of, since, history)", r.raw)
		}
	}
	if urlNamesBranch(dst.raw) {
		return usagef("accrete sync: DST %s names a branch; a branch is copied under its own name (name it with --branch or in SRC)", dst.raw)
	}
	if src.url == dst.url {
		return fmt.Errorf("accrete sync: SRC and DST are the same bucket %s", src.url)
	}
	sst, err := openStore(ctx, src, true)
	if err != nil {
		return fmt.Errorf("accrete sync: source: %w", err)
	}
	defer sst.Close()
	names, err := selectBranches(ctx, sst, src, *branchName)
	if err != nil {
		return fmt.Errorf("accrete sync: source: %w", err)
	}
	dstStore, err := openStore(ctx, dst, false)
	if err != nil {
		return fmt.Errorf("accrete sync: destination: %w", err)
	}
	defer dstStore.Close()
	rep, err := ops.Sync(ctx, sst, dstStore, ops.SyncOptions{Branches: names, Force: *force})
	if err != nil {
		if errors.Is(err, ops.ErrDiverged) {
			return fmt.Errorf("accrete sync: %w (the destination has commits the source lacks; --force overwrites them)", err)
		}
		return fmt.Errorf("accrete sync: %w", err)
	}
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	return emit(e.stdout, edn.Map{
		{Key: kw("nodes"), Val: rep.Nodes},
		{Key: kw("bytes"), Val: rep.Bytes},
		{Key: kw("commits"), Val: rep.Commits},
		{Key: kw("heads"), Val: int64(rep.Heads)},
		{Key: kw("branches"), Val: int64(rep.Branches)},
		{Key: kw("skipped"), Val: rep.Skipped},
		{Key: kw("history-ends"), Val: rep.HistoryEnds},
	}, *asJSON)
}
