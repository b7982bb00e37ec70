package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/ops"
)

var gcCmd = &command{
	name:     "gc",
	synopsis: "URL [--dry-run] [--keep-since TIME] [--grace DURATION] [--json]",
	summary:  "delete stored nodes that no branch head and no retained commit reaches",
	help: `Marks from every branch head (all branches of the bucket, whatever branch the
URL names), from every commit that was a head within the grace period and,
with --keep-since, from every commit made at or after TIME; then deletes the
unmarked nodes last modified before now minus the grace. Readers and writers
in other processes may keep working: a node younger than the grace is never
deleted, and every head is bumped before the sweep so that a stalled writer's
late commit fails instead of publishing deleted nodes. A GC that is killed
leaves a correct database; running it again finishes the job.

TIME is an RFC 3339 instant (2026-01-02T15:04:05Z) or a duration ago (720h).
DURATION is a Go duration (90m, 2h); 0 means no grace at all, which is only
safe when no other process reads or writes the database.

Prints {:dry-run B :marked N :swept N :bytes-freed N :kept N :listed N
:commits N :branches N :bumped N :fetched N}: :swept counts the nodes deleted
(with --dry-run, deletable now; a dry run deletes and bumps nothing), :kept
the unreachable nodes spared because they are younger than the grace.
Progress goes to stderr.`,
	run: runGC,
}

func runGC(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	dryRun := fs.Bool("dry-run", false, "report what would be deleted, delete nothing")
	keepSince := fs.String("keep-since", "", "also keep every commit made at or after `TIME` (RFC 3339, or a duration ago such as 720h)")
	grace := fs.Duration("grace", ops.DefaultGrace, "spare nodes written, and commits that were heads, within this `DURATION`")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	pos, err := c.parse(e, fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *grace < 0 {
		return usagef("accrete gc: --grace %s is negative", *grace)
	}
	now := time.Now()
	var since time.Time
	if *keepSince != "" {
		if since, err = parseKeepSince(*keepSince, now); err != nil {
			return usagef("accrete gc: --keep-since: %v", err)
		}
	}
	ref, err := parseDBRef(pos[0], "")
	if err != nil {
		return err
	}
	if ref.isView() {
		return fmt.Errorf("accrete gc: %s: gc works on the whole bucket (remove as-of, since, history)", ref.raw)
	}
	st, err := openStore(ctx, ref, true)
	if err != nil {
		return fmt.Errorf("accrete gc: %w", err)
	}
	defer st.Close()
	// A bucket without branches would lose every node: refuse, it is
	// almost surely the wrong URL.
	if _, err := allBranches(ctx, st, ref); err != nil {
		return fmt.Errorf("accrete gc: %w", err)
	}
	g := *grace
	if g == 0 {
		// ops reads 0 as its default; the user asked for none.
		g = time.Nanosecond
	}
	p := &gcProgress{e: e}
	rep, err := ops.GC(ctx, st, ops.GCOptions{
		DryRun:    *dryRun,
		KeepSince: since,
		Grace:     g,
		Progress:  p.report,
	})
	p.end()
	if err != nil {
		return fmt.Errorf("accrete gc: %s: %w", ref.url, err)
	}
	return emit(e.stdout, gcValue(rep), *asJSON)
}

// parseKeepSince reads --keep-since: an RFC 3339 instant, or a positive Go
// duration counted back from now.
func parseKeepSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("duration %s is negative (write it without a sign: 720h means 720 hours ago)", s)
		}
		return now.Add(-d), nil
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 instant nor a duration ago (e.g. 720h)", s)
	}
	return tm, nil
}

// gcValue is the printed form of a GC report.
func gcValue(r ops.GCReport) edn.Map {
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	return edn.Map{
		{Key: kw("dry-run"), Val: r.DryRun},
		{Key: kw("marked"), Val: r.Marked},
		{Key: kw("swept"), Val: r.Swept},
		{Key: kw("bytes-freed"), Val: r.BytesFreed},
		{Key: kw("kept"), Val: r.Kept},
		{Key: kw("listed"), Val: r.Listed},
		{Key: kw("commits"), Val: r.Commits},
		{Key: kw("branches"), Val: int64(r.Branches)},
		{Key: kw("bumped"), Val: int64(r.Bumped)},
		{Key: kw("fetched"), Val: r.Fetched},
	}
}

// gcProgress prints GC's progress on stderr: one line redrawn in place on
// a terminal, one plain line per phase otherwise.
type gcProgress struct {
	e     *env
	drawn bool // a terminal line is open (needs a newline at the end)
}

func (p *gcProgress) report(g ops.GCProgress) {
	if p.e.stderr == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gc: %s: %d nodes marked", g.Phase, g.Marked)
	switch g.Phase {
	case ops.PhaseSweep:
		fmt.Fprintf(&b, ", %d nodes listed", g.Listed)
	case ops.PhaseDone:
		fmt.Fprintf(&b, ", %d nodes listed, %d swept", g.Listed, g.Swept)
	}
	if p.e.stderrTTY {
		fmt.Fprintf(p.e.stderr, "\r\x1b[K%s", b.String())
		p.drawn = true
		if g.Phase == ops.PhaseDone {
			p.end()
		}
		return
	}
	fmt.Fprintln(p.e.stderr, b.String())
}

// end closes a line left open on a terminal.
func (p *gcProgress) end() {
	if p.drawn {
		fmt.Fprintln(p.e.stderr)
		p.drawn = false
	}
}
