package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
)

var branchCmd = &command{
	name:     "branch",
	synopsis: "URL list | create NAME [--from T] | delete NAME | merge FROM [--into main]",
	summary:  "list, create, delete or merge branches",
	help: `list prints a vector of branch names. create NAME makes a branch that starts at
the current commit of --branch (default main), or at the newest commit whose t
is at most T with --from T; it prints {:branch NAME :t T}. delete NAME removes
a branch (its commits stay until garbage collection) and prints {:deleted NAME}.

` + mergeHelp,
	run: runBranch,
}

func runBranch(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch a new branch starts from (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	from := fs.String("from", "", "create: start the branch at `T` (the newest commit with t <= T)")
	merge := registerMergeFlags(fs)
	pos, err := c.parse(e, fs, args, 2, 3)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	op := pos[1]
	switch {
	case op == "list" && len(pos) == 2:
	case (op == "create" || op == "delete" || op == "merge") && len(pos) == 3:
		if !branch.ValidName(pos[2]) {
			return fmt.Errorf("accrete branch: %q is not a valid branch name (letters, digits, '.', '_', '-')", pos[2])
		}
	default:
		return usagef("accrete branch: expected list, create NAME, delete NAME or merge FROM (see accrete branch --help)")
	}
	if *from != "" && op != "create" {
		return usagef("accrete branch: --from applies to create only")
	}
	if merge.set() && op != "merge" {
		return usagef("accrete branch: --into and --dry-run apply to merge only")
	}
	var fromT int64 = -1
	if *from != "" {
		if fromT, err = strconv.ParseInt(*from, 10, 64); err != nil || fromT < 0 {
			return usagef("accrete branch: --from %q is not a t", *from)
		}
	}
	st, err := openStore(ctx, ref, true)
	if err != nil {
		return fmt.Errorf("accrete branch: %w", err)
	}
	defer st.Close()
	switch op {
	case "list":
		names, err := branch.List(ctx, st)
		if err != nil {
			return fmt.Errorf("accrete branch: %w", err)
		}
		v := make(edn.Vector, len(names))
		for i, n := range names {
			v[i] = n
		}
		return emit(e.stdout, v, *asJSON)
	case "merge":
		return runMerge(ctx, e, st, ref, pos[2], merge, *asJSON)
	case "create":
		addr, t, err := commitAt(ctx, st, ref.branch, fromT)
		if err != nil {
			return fmt.Errorf("accrete branch: %w", err)
		}
		if _, err := branch.Create(ctx, st, pos[2], addr); err != nil {
			if errors.Is(err, branch.ErrExists) {
				return fmt.Errorf("accrete branch: branch %s already exists", pos[2])
			}
			return fmt.Errorf("accrete branch: %w", err)
		}
		return emit(e.stdout, edn.Map{
			{Key: edn.Keyword("branch"), Val: pos[2]},
			{Key: edn.Keyword("t"), Val: t},
		}, *asJSON)
	default: // delete
		if _, err := branch.Read(ctx, st, pos[2]); err != nil {
			if errors.Is(err, branch.ErrNoBranch) {
				return fmt.Errorf("accrete branch: no branch %s", pos[2])
			}
			return fmt.Errorf("accrete branch: %w", err)
		}
		if err := branch.Delete(ctx, st, pos[2]); err != nil {
			return fmt.Errorf("accrete branch: %w", err)
		}
		return emit(e.stdout, edn.Map{{Key: edn.Keyword("deleted"), Val: pos[2]}}, *asJSON)
	}
}

// commitAt finds the commit of branch name to start a new branch at: the
// head when t < 0, else the newest commit whose basis t is at most t.
func commitAt(ctx context.Context, st *konserve.Store, name string, t int64) (konserve.Hash, int64, error) {
	h, err := branch.Read(ctx, st, name)
	if err != nil {
		if errors.Is(err, branch.ErrNoBranch) {
			return konserve.Hash{}, 0, fmt.Errorf("no branch %s", name)
		}
		return konserve.Hash{}, 0, err
	}
	if t < 0 {
		return h.Addr, h.Commit.BasisT, nil
	}
	var found konserve.Hash
	var foundT int64
	ok := false
	err = branch.Walk(ctx, st, h.Addr, func(addr konserve.Hash, c *branch.Commit) (bool, error) {
		if c.BasisT <= t {
			found, foundT, ok = addr, c.BasisT, true
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return konserve.Hash{}, 0, err
	}
	if !ok {
		return konserve.Hash{}, 0, fmt.Errorf("branch %s has no commit at or before t %d", name, t)
	}
	return found, foundT, nil
}
