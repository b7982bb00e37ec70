package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/ops"
)

// mergeHelp is the part of `accrete branch --help` about merge.
const mergeHelp = `merge FROM replays the transactions FROM made since its common ancestor with
the target branch (--into, default main or --branch) as new transactions on
the target, keeping their metadata, all published as one commit. It prints
{:merged "FROM" :into "B" :transactions N :datoms N :t T}, where T is the
target's t afterwards. When both branches changed a cardinality-one or unique
attribute of one entity, or FROM asserts a unique value another entity holds
on the target, nothing is written: the conflicts are named on stderr and the
exit code is 1. --dry-run checks and counts without writing.`

// maxConflictsShown bounds how many conflicts the error line spells out.
const maxConflictsShown = 3

// mergeFlags are the flags of branch merge, registered on branch's flag set.
type mergeFlags struct {
	into   string
	dryRun bool
}

func registerMergeFlags(fs *flag.FlagSet) *mergeFlags {
	m := &mergeFlags{}
	fs.StringVar(&m.into, "into", "", "merge: the target `BRANCH` (default main, or --branch)")
	fs.BoolVar(&m.dryRun, "dry-run", false, "merge: check for conflicts and count, write nothing")
	return m
}

// set reports whether a merge-only flag was given.
func (m *mergeFlags) set() bool { return m.into != "" || m.dryRun }

// runMerge merges branch from into the target of ref (or --into) in st.
func runMerge(ctx context.Context, e *env, st *konserve.Store, ref dbRef, from string, m *mergeFlags, asJSON bool) error {
	into := ref.branch
	if m.into != "" {
		if !branch.ValidName(m.into) {
			return fmt.Errorf("accrete branch merge: %q is not a valid branch name", m.into)
		}
		into = m.into
	}
	if from == into {
		return fmt.Errorf("accrete branch merge: cannot merge %s into itself", from)
	}
	for _, name := range []string{from, into} {
		if _, err := branch.Read(ctx, st, name); err != nil {
			if errors.Is(err, branch.ErrNoBranch) {
				return fmt.Errorf("accrete branch merge: no branch %s", name)
			}
			return fmt.Errorf("accrete branch merge: %w", err)
		}
	}
	rep, err := ops.Merge(ctx, st, from, into, &ops.MergeOptions{DryRun: m.dryRun})
	switch {
	case errors.Is(err, ops.ErrMergeConflict):
		return fmt.Errorf("accrete branch merge: %s into %s: %s; nothing was merged", from, into, conflictList(rep.Conflicts))
	case errors.Is(err, ops.ErrNoAncestor):
		return fmt.Errorf("accrete branch merge: %s and %s share no commit (different databases, or history collected by gc)", from, into)
	case err != nil:
		return fmt.Errorf("accrete branch merge: %w", err)
	}
	var t int64
	if rep.Head != nil {
		t = rep.Head.Commit.BasisT
	} else {
		h, err := branch.Read(ctx, st, into)
		if err != nil {
			return fmt.Errorf("accrete branch merge: %w", err)
		}
		t = h.Commit.BasisT
	}
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	out := edn.Map{
		{Key: kw("merged"), Val: from},
		{Key: kw("into"), Val: into},
		{Key: kw("transactions"), Val: int64(rep.Transactions)},
		{Key: kw("datoms"), Val: int64(rep.Datoms)},
		{Key: kw("t"), Val: t},
	}
	if m.dryRun {
		out = append(out, edn.MapEntry{Key: kw("dry-run"), Val: true})
	}
	return emit(e.stdout, out, asJSON)
}

// conflictList names conflicts on one line: the count and the first few.
func conflictList(cs []ops.Conflict) string {
	parts := make([]string, 0, maxConflictsShown+1)
	for i, c := range cs {
		if i == maxConflictsShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-i))
			break
		}
		parts = append(parts, c.String())
	}
	noun := "conflicts"
	if len(cs) == 1 {
		noun = "conflict"
	}
	return fmt.Sprintf("%d %s: %s", len(cs), noun, strings.Join(parts, "; "))
}
