package main

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/edn"
)

var statsCmd = &command{
	name:     "stats",
	synopsis: "URL [--json]",
	summary:  "print datoms, depth, nodes and bytes per index, commits, and request counters",
	help: `Reads every stored node once (the cost is the size of the database) and prints
{:basis-t T :commits N :tail {:datoms N :bytes N}
 :indexes {:eavt {:datoms N :depth N :nodes N :bytes N} …}
 :requests {:gets N :bytes-read N :head-reads N :cache-hits N :cache-misses N}}
where :requests counts what this command itself sent to the bucket.`,
	run: runStats,
}

func runStats(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch of URL (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
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
		return fmt.Errorf("accrete stats: %w", err)
	}
	defer st.Close()
	s, err := db.Stats(ctx)
	if err != nil {
		return fmt.Errorf("accrete stats: %w", err)
	}
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	idx := make(edn.Map, 0, len(s.Indexes))
	for _, is := range s.Indexes {
		idx = append(idx, edn.MapEntry{Key: kw(is.Name), Val: edn.Map{
			{Key: kw("datoms"), Val: is.Datoms},
			{Key: kw("depth"), Val: int64(is.Depth)},
			{Key: kw("nodes"), Val: is.Nodes},
			{Key: kw("bytes"), Val: is.Bytes},
		}})
	}
	ks := st.Stats()
	return emit(e.stdout, edn.Map{
		{Key: kw("basis-t"), Val: s.BasisT},
		{Key: kw("commits"), Val: int64(s.Seq) + 1},
		{Key: kw("tail"), Val: edn.Map{
			{Key: kw("datoms"), Val: s.TailDatoms},
			{Key: kw("bytes"), Val: s.TailBytes},
		}},
		{Key: kw("indexes"), Val: idx},
		{Key: kw("requests"), Val: edn.Map{
			{Key: kw("gets"), Val: ks.Gets},
			{Key: kw("bytes-read"), Val: ks.BytesRead},
			{Key: kw("head-reads"), Val: ks.HeadReads},
			{Key: kw("cache-hits"), Val: ks.CacheHits},
			{Key: kw("cache-misses"), Val: ks.CacheMisses},
		}},
	}, *asJSON)
}
