package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/ops"
)

var purgeCmd = &command{
	name:     "purge",
	synopsis: "URL [PURGE-EDN | -] [--by NAME] [--dry-run] [--gc [--grace DURATION] [--keep-since TIME]] [--branch B] [--json]",
	summary:  "erase datoms from current and history indices and the log, for legal erasure",
	help: `PURGE-EDN (or stdin, without it or with -) is a vector of Datahike's purge forms:
  [:db/purge E A V]              every assertion and retraction of the fact E A V
  [:db.purge/attribute E A]      every datom of attribute A on E
  [:db.purge/entity E]           every datom of E, every ref to E, and E's components
  [:db.history.purge/before I]   every datom no longer current whose transaction's
                                 instant is before #inst I (current datoms stay)
E is an entity id, an ident or a lookup ref [:attr value] (a retracted unique
value still names its entity); A an attribute ident.

The datoms leave every index, current and history, and the log, in one new
commit on the branch, together with a purge transaction that records the
operations (entity ids and attribute idents, never values), how many datoms
went, who asked (--by) and when. Writers in other processes rebase onto it.

Older commits still hold the datoms until GC deletes their nodes: with --gc,
accrete runs gc on the whole bucket afterwards (as accrete gc, with --grace
and --keep-since). Nodes younger than the grace (default 1h) and commits that
were heads within it are kept, so the bytes leave the bucket only once a gc
runs after the grace has passed. Other branches, and copies made by sync,
keep the datoms until they are purged too.

Prints {:branch B :dry-run B :datoms N :tx T :ops [...] :removed {TREE N ...}
:nodes-written N :bytes-written N}, and :gc {...} (as accrete gc prints) with
--gc. Nothing matching is not an error: :datoms 0 and nothing is written. A
form that cannot be resolved fails (exit 1) and nothing is written.`,
	run: runPurge,
}

func runPurge(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch to purge (default main)")
	by := fs.String("by", "", "record `NAME` as who asked for the purge")
	dryRun := fs.Bool("dry-run", false, "resolve the forms and count what would go, write nothing")
	runGC := fs.Bool("gc", false, "run gc on the bucket after the purge")
	keepSince := fs.String("keep-since", "", "with --gc: also keep every commit made at or after `TIME`")
	grace := fs.Duration("grace", ops.DefaultGrace, "with --gc: spare nodes and commits younger than this `DURATION`")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	pos, err := c.parse(e, fs, args, 1, 2)
	if err != nil {
		return err
	}
	if *grace < 0 {
		return usagef("accrete purge: --grace %s is negative", *grace)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !*runGC && (set["keep-since"] || set["grace"]) {
		return usagef("accrete purge: --grace and --keep-since only go with --gc")
	}
	if *runGC && *dryRun {
		return usagef("accrete purge: --gc and --dry-run do not go together (use accrete gc --dry-run)")
	}
	var since time.Time
	if *keepSince != "" {
		if since, err = parseKeepSince(*keepSince, time.Now()); err != nil {
			return usagef("accrete purge: --keep-since: %v", err)
		}
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	if ref.isView() {
		return fmt.Errorf("accrete purge: %s: purge works on a branch's current value (remove as-of, since, history)", ref.raw)
	}
	var text []byte
	if len(pos) == 1 || pos[1] == "-" {
		if text, err = io.ReadAll(e.stdin); err != nil {
			return fmt.Errorf("accrete purge: read stdin: %w", err)
		}
	} else {
		text = []byte(pos[1])
	}
	// Parse before opening anything, so bad data never touches the bucket.
	if _, err := ops.ParsePurge(text); err != nil {
		return fmt.Errorf("accrete purge: %w", err)
	}
	st, err := openStore(ctx, ref, true)
	if err != nil {
		return fmt.Errorf("accrete purge: %w", err)
	}
	defer st.Close()
	rep, err := ops.Purge(ctx, st, text, &ops.PurgeOptions{Branch: ref.branch, By: *by, DryRun: *dryRun})
	if err != nil {
		if errors.Is(err, branch.ErrNoBranch) {
			return fmt.Errorf("accrete purge: no database at %s", ref)
		}
		return fmt.Errorf("accrete purge: %w", err)
	}
	out := purgeValue(rep)
	if *runGC {
		g := *grace
		if g == 0 {
			g = time.Nanosecond // ops reads 0 as its default; the user asked for none
		}
		p := &gcProgress{e: e}
		grep, err := ops.GC(ctx, st, ops.GCOptions{KeepSince: since, Grace: g, Progress: p.report})
		p.end()
		if err != nil {
			return fmt.Errorf("accrete purge: purged (tx %d), then gc failed (rerun accrete gc): %w", rep.T, err)
		}
		out = append(out, edn.MapEntry{Key: edn.Keyword("gc"), Val: gcValue(grep)})
	}
	return emit(e.stdout, out, *asJSON)
}

// purgeValue is the printed form of a purge report.
func purgeValue(r ops.PurgeReport) edn.Map {
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	descs := make(edn.Vector, len(r.Ops))
	for i, d := range r.Ops {
		descs[i] = d
	}
	trees := make([]string, 0, len(r.Removed))
	for k := range r.Removed {
		trees = append(trees, k)
	}
	sort.Strings(trees)
	removed := make(edn.Map, len(trees))
	for i, k := range trees {
		removed[i] = edn.MapEntry{Key: k, Val: int64(r.Removed[k])}
	}
	return edn.Map{
		{Key: kw("branch"), Val: r.Branch},
		{Key: kw("dry-run"), Val: r.DryRun},
		{Key: kw("datoms"), Val: int64(r.Datoms)},
		{Key: kw("tx"), Val: r.T},
		{Key: kw("ops"), Val: descs},
		{Key: kw("removed"), Val: removed},
		{Key: kw("nodes-written"), Val: r.NodesWritten},
		{Key: kw("bytes-written"), Val: r.BytesWritten},
	}
}
