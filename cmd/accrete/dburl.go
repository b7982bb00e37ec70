package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// dbRef names a database value: a bucket URL without accrete's own
// parameters, a branch, and an optional point of view.
type dbRef struct {
	raw     string // as the user wrote it, for messages
	url     string // what konserve.Open gets
	scheme  string
	branch  string
	asOf    string // "" or a t or an instant
	since   string
	history bool
}

// isView reports whether r names a point of view (as-of, since or
// history) rather than a branch's current value, which commands that
// write or work on whole branches refuse.
func (r dbRef) isView() bool { return r.asOf != "" || r.since != "" || r.history }

// accreteParams are the URL query parameters accrete reads itself; gocloud
// rejects parameters it does not know, so they are removed before opening.
var accreteParams = []string{"branch", "as-of", "since", "history"}

// parseDBRef splits raw into the bucket URL and accrete's parameters.
// branchFlag, when not empty, overrides the URL's branch parameter.
func parseDBRef(raw, branchFlag string) (dbRef, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return dbRef{}, fmt.Errorf("accrete: %q is not a bucket URL (want e.g. file:///data/people or s3://bucket/prefix)", raw)
	}
	ref := dbRef{raw: raw, url: raw, scheme: u.Scheme, branch: branch.Default}
	q := u.Query()
	found := false
	for _, p := range accreteParams {
		if q.Has(p) {
			found = true
		}
	}
	if found {
		if b := q.Get("branch"); b != "" {
			ref.branch = b
		}
		ref.asOf = q.Get("as-of")
		ref.since = q.Get("since")
		if q.Has("history") {
			h := q.Get("history")
			ref.history = h == "" || h == "true" || h == "1"
			if !ref.history && h != "false" && h != "0" {
				return dbRef{}, fmt.Errorf("accrete: URL %s: history=%q is not a boolean", raw, h)
			}
		}
		for _, p := range accreteParams {
			q.Del(p)
		}
		u.RawQuery = q.Encode()
		ref.url = u.String()
	}
	if branchFlag != "" {
		ref.branch = branchFlag
	}
	if !branch.ValidName(ref.branch) {
		return dbRef{}, fmt.Errorf("accrete: %q is not a valid branch name", ref.branch)
	}
	return ref, nil
}

// String names the database for messages.
func (r dbRef) String() string {
	if r.branch == branch.Default {
		return r.url
	}
	return r.url + " (branch " + r.branch + ")"
}

// viewFlags are the point-of-view flags that apply to the main database.
type viewFlags struct {
	asOf, since string
	history     bool
}

func (v *viewFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.asOf, "as-of", "", "view the database as of `T` (a t, a transaction id or an RFC 3339 instant)")
	fs.StringVar(&v.since, "since", "", "view only what was added after `T` (a t, a transaction id or an RFC 3339 instant)")
	fs.BoolVar(&v.history, "history", false, "view every assertion and retraction ever made")
}

// apply copies the flags that were set onto ref.
func (v *viewFlags) apply(ref *dbRef) {
	if v.asOf != "" {
		ref.asOf = v.asOf
	}
	if v.since != "" {
		ref.since = v.since
	}
	if v.history {
		ref.history = true
	}
}

// openStore opens the bucket of ref. For a read-only use of a file bucket
// (mustExist), a missing directory is reported without creating it, so that
// a mistyped URL leaves no trace.
func openStore(ctx context.Context, ref dbRef, mustExist bool) (*konserve.Store, error) {
	if mustExist && ref.scheme == "file" {
		u, err := url.Parse(ref.url)
		if err == nil {
			if _, err := os.Stat(u.Path); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("accrete: no database at %s: directory %s does not exist", ref, u.Path)
			}
		}
	}
	st, err := konserve.Open(ctx, ref.url, nil)
	if err != nil {
		return nil, fmt.Errorf("accrete: open bucket %s: %w", ref.url, err)
	}
	return st, nil
}

// openDB opens the database value ref names, with its point of view applied.
// The caller closes the returned store.
func openDB(ctx context.Context, ref dbRef) (*reader.DB, *konserve.Store, error) {
	st, err := openStore(ctx, ref, true)
	if err != nil {
		return nil, nil, err
	}
	db, err := reader.OpenStore(ctx, st, &reader.Options{Branch: ref.branch})
	if err != nil {
		st.Close()
		if errors.Is(err, reader.ErrNoDatabase) || errors.Is(err, branch.ErrNoBranch) {
			return nil, nil, fmt.Errorf("accrete: no database at %s", ref)
		}
		return nil, nil, fmt.Errorf("accrete: open %s: %w", ref, err)
	}
	db, err = applyView(ctx, db, ref)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return db, st, nil
}

// applyView restricts db to the point of view of ref.
func applyView(ctx context.Context, db *reader.DB, ref dbRef) (*reader.DB, error) {
	if ref.asOf != "" {
		t, tm, err := parsePoint(ref.asOf)
		if err != nil {
			return nil, fmt.Errorf("accrete: as-of: %w", err)
		}
		if tm.IsZero() {
			db = db.AsOf(t)
		} else if db, err = db.AsOfTime(ctx, tm); err != nil {
			return nil, fmt.Errorf("accrete: as-of %s: %w", ref.asOf, err)
		}
	}
	if ref.since != "" {
		t, tm, err := parsePoint(ref.since)
		if err != nil {
			return nil, fmt.Errorf("accrete: since: %w", err)
		}
		if tm.IsZero() {
			db = db.Since(t)
		} else if db, err = db.SinceTime(ctx, tm); err != nil {
			return nil, fmt.Errorf("accrete: since %s: %w", ref.since, err)
		}
	}
	if ref.history {
		db = db.History()
	}
	return db, nil
}

// parsePoint parses a point in time: a non-negative integer (a t or a
// transaction id) or an instant (RFC 3339, or a date 2006-01-02).
func parsePoint(s string) (int64, time.Time, error) {
	if t, err := strconv.ParseInt(s, 10, 64); err == nil {
		if t < 0 {
			return 0, time.Time{}, fmt.Errorf("%d is negative", t)
		}
		return t, time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return 0, tm, nil
		}
	}
	return 0, time.Time{}, fmt.Errorf("%q is neither a t nor an RFC 3339 instant", s)
}

// oneLine flattens a message to one line, for stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
