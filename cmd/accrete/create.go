package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/writer"
)

var createCmd = &command{
	name:     "create",
	synopsis: "URL [--schema-on-read] [--branch B]",
	summary:  "create a new, empty database (refuses to overwrite one)",
	help: `Prints {:created URL :branch B :t 0}. With --schema-on-read, attributes need no
declaration: an attribute is installed on first use and typed by its values.`,
	run: runCreate,
}

func runCreate(ctx context.Context, e *env, c *command, args []string) error {
	fs := c.newFlags()
	schemaOnRead := fs.Bool("schema-on-read", false, "make a schema-on-read database")
	branchName := fs.String("branch", "", "branch to create the database on (default main)")
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
		return fmt.Errorf("accrete create: %s: a new database has no past (remove as-of, since, history)", ref.raw)
	}
	w, err := writer.Create(ctx, ref.url, &writer.Options{Branch: ref.branch, SchemaOnRead: *schemaOnRead})
	if err != nil {
		if errors.Is(err, writer.ErrExists) {
			return fmt.Errorf("accrete create: a database already exists at %s", ref)
		}
		return fmt.Errorf("accrete create: %s: %w", ref, err)
	}
	t := w.DB().BasisT()
	if err := w.Close(); err != nil {
		return fmt.Errorf("accrete create: %s: %w", ref, err)
	}
	return emit(e.stdout, edn.Map{
		{Key: edn.Keyword("created"), Val: ref.url},
		{Key: edn.Keyword("branch"), Val: ref.branch},
		{Key: edn.Keyword("t"), Val: t},
	}, *asJSON)
}
