package main

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
)

var pullCmd = &command{
	name:     "pull",
	synopsis: "URL PATTERN-EDN ENTITY [--as-of T] [--since T] [--json]",
	summary:  "pull one entity's attributes as a map",
	help: `ENTITY is an entity id (17592186045418), an ident (:person/name) or a lookup
ref ('[:person/email "ann@example.com"]'). Prints nil (and exits 0) when the
entity does not exist or has none of the pulled attributes.`,
	run: runPull,
}

func runPull(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	branchName := fs.String("branch", "", "branch of URL (default main)")
	asJSON := fs.Bool("json", false, "print JSON instead of EDN")
	var view viewFlags
	view.register(fs)
	pos, err := c.parse(e, fs, args, 3, 3)
	if err != nil {
		return err
	}
	ref, err := parseDBRef(pos[0], *branchName)
	if err != nil {
		return err
	}
	view.apply(&ref)
	pattern, err := edn.ReadString(pos[1])
	if err != nil {
		return fmt.Errorf("accrete pull: pattern: %w", err)
	}
	pp, err := query.ParsePull(pattern)
	if err != nil {
		return fmt.Errorf("accrete pull: pattern: %w", err)
	}
	eid, err := parseEntityArg(pos[2])
	if err != nil {
		return fmt.Errorf("accrete pull: %w", err)
	}
	db, st, err := openDB(ctx, ref)
	if err != nil {
		return fmt.Errorf("accrete pull: %w", err)
	}
	defer st.Close()
	m, err := query.Pull(ctx, db, pp, eid)
	if err != nil {
		return fmt.Errorf("accrete pull: %w", err)
	}
	if len(m) == 0 {
		return emit(e.stdout, nil, *asJSON)
	}
	return emit(e.stdout, m, *asJSON)
}

// parseEntityArg reads an ENTITY argument: an id, an ident keyword or a
// lookup ref vector.
func parseEntityArg(s string) (any, error) {
	v, err := edn.ReadString(s)
	if err != nil {
		return nil, fmt.Errorf("entity %q: %w", s, err)
	}
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return nil, fmt.Errorf("entity %d: an id is not negative", x)
		}
		return x, nil
	case edn.Keyword:
		return x, nil
	case edn.Vector:
		if len(x) == 2 {
			if _, ok := x[0].(edn.Keyword); ok {
				return x, nil
			}
		}
	}
	return nil, fmt.Errorf("entity %s: want an id, an ident keyword or a lookup ref [:attr value]", s)
}
