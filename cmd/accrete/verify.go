package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/ops"
)

var verifyCmd = &command{
	name:     "verify",
	synopsis: "URL [--branch B] [--json]",
	summary:  "re-hash every stored node reachable from the branch heads; exit 1 on damage",
	help: `Reads every node reachable from every branch head (or only from branch B, given
by --branch or branch= in the URL): each commit and its parents, every index
tree node and log tail. Each node is re-hashed against its address, and
commits and tree nodes are decoded. History that ends at a commit GC
collected is not damage.

Prints {:nodes N :missing ["hash" …] :corrupt ["hash" …] :bytes N :commits N
:branches N :history-ends N}, and when anything is missing or corrupt also
one line on stderr naming the first of them, and exits 1.`,
	run: runVerify,
}

func runVerify(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "verify only this branch (default: every branch)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	pos, err := c.parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	if ref.isView() {
		return fmt.Errorf("accrete verify: %s: verify checks branch heads (remove as-of, since, history)", ref.raw)
	}
	st, err := openStore(ctx, ref, true)
	if err != nil {
		return fmt.Errorf("accrete verify: %w", err)
	}
	defer st.Close()
	names, err := selectBranches(ctx, st, ref, *branchName)
	if err != nil {
		return fmt.Errorf("accrete verify: %w", err)
	}
	rep, err := ops.Verify(ctx, st, ops.VerifyOptions{Branches: names})
	if err != nil {
		return fmt.Errorf("accrete verify: %s: %w", ref.url, err)
	}
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	if err := emit(e.stdout, edn.Map{
		{Key: kw("nodes"), Val: rep.Nodes},
		{Key: kw("missing"), Val: hashVector(rep.Missing)},
		{Key: kw("corrupt"), Val: hashVector(rep.Corrupt)},
		{Key: kw("bytes"), Val: rep.Bytes},
		{Key: kw("commits"), Val: rep.Commits},
		{Key: kw("branches"), Val: int64(rep.Branches)},
		{Key: kw("history-ends"), Val: rep.HistoryEnds},
	}, *asJSON); err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	var parts []string
	if n := len(rep.Missing); n > 0 {
		parts = append(parts, fmt.Sprintf("%d missing (first %s)", n, rep.Missing[0]))
	}
	if n := len(rep.Corrupt); n > 0 {
		parts = append(parts, fmt.Sprintf("%d corrupt (first %s)", n, rep.Corrupt[0]))
	}
	return fmt.Errorf("accrete verify: %s is damaged: %s nodes", ref.url, strings.Join(parts, ", "))
}

// hashVector prints addresses as a vector of hex strings.
func hashVector(hs []konserve.Hash) edn.Vector {
	v := make(edn.Vector, len(hs))
	for i, h := range hs {
		v[i] = h.String()
	}
	return v
}

// selectBranches returns the branches an operation on the whole bucket
// should cover: the one named by flag or by branch= in ref's URL, checked
// to exist, or else every branch. A bucket without branches holds no
// database, which is an error.
func selectBranches(ctx context.Context, st *konserve.Store, ref dbRef, flag string) ([]string, error) {
	if flag == "" && !urlNamesBranch(ref.raw) {
		return allBranches(ctx, st, ref)
	}
	if _, err := branch.Read(ctx, st, ref.branch); err != nil {
		if errors.Is(err, branch.ErrNoBranch) {
			return nil, fmt.Errorf("no branch %s at %s", ref.branch, ref.url)
		}
		return nil, err
	}
	return []string{ref.branch}, nil
}

// urlNamesBranch reports whether raw carries a branch= parameter.
func urlNamesBranch(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Query().Get("branch") != ""
}

// allBranches lists the branches of st, and fails when there are none: the
// bucket holds no database.
func allBranches(ctx context.Context, st *konserve.Store, ref dbRef) ([]string, error) {
	names, err := branch.List(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no database at %s (no branches)", ref.url)
	}
	return names, nil
}
