package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bucketHas reports whether any file under dir contains s.
func bucketHas(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if bytes.Contains(b, []byte(s)) {
			found = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestPurge: purge removes a person from every view, records who and how
// many, and with --gc --grace 0s its bytes leave the bucket; the
// database answers everything else as before.
func TestPurge(t *testing.T) {
	url, dir := fileURL(t, "purge")
	newPeople(t, url)
	ok(t, "", "transact", url, `[{:person/name "Cy" :person/age 41}]`)
	ok(t, "", "transact", url, `[[:db/retract [:person/name "Cy"] :person/age 41]]`)
	ok(t, "", "transact", url, `[{:person/name "Cy" :person/age 42}]`)
	ages := func() string {
		return ok(t, "", "query", url, "--history", `[:find ?n ?a ?op :where [?e :person/name ?n] [?e :person/age ?a _ ?op]]`)
	}
	if !strings.Contains(ages(), `"Cy" 41`) {
		t.Fatalf("Cy's old age missing before the purge: %s", ages())
	}

	// A dry run writes nothing.
	snap := snapshot(t, dir)
	dry := ok(t, "", "purge", url, `[[:db/purge [:person/name "Cy"] :person/age 41]]`, "--dry-run")
	if !strings.Contains(dry, ":dry-run true") || field(t, dry, "datoms") != 2 {
		t.Errorf("purge --dry-run: %s, want :dry-run true and 2 datoms (assertion and retraction)", dry)
	}
	if d := diffSnapshots(snap, snapshot(t, dir)); d != "" {
		t.Fatalf("purge --dry-run changed the bucket: %s", d)
	}
	var js struct {
		Datoms  int            `json:":datoms"`
		DryRun  bool           `json:":dry-run"`
		Removed map[string]int `json:":removed"`
	}
	if err := json.Unmarshal([]byte(ok(t, "", "purge", url, `[[:db/purge [:person/name "Cy"] :person/age 41]]`, "--dry-run", "--json")), &js); err != nil ||
		js.Datoms != 2 || !js.DryRun || js.Removed["log"] != 2 {
		t.Errorf("purge --dry-run --json: %+v, %v", js, err)
	}

	out := ok(t, "", "purge", url, `[[:db/purge [:person/name "Cy"] :person/age 41]]`, "--by", "dpo@example.com")
	if field(t, out, "datoms") != 2 || field(t, out, "tx") == 0 || !strings.Contains(out, `:ops ["[:db/purge `) {
		t.Errorf("purge printed %s", out)
	}
	if strings.Contains(out, "41") {
		t.Errorf("purge output names the purged value: %s", out)
	}
	if got := ages(); strings.Contains(got, "41") || !strings.Contains(got, `"Cy" 42`) {
		t.Errorf("after purge, history ages: %s", got)
	}
	audit := ok(t, "", "query", url, `[:find ?by ?n :where [?t :accrete.purge/by ?by] [?t :accrete.purge/count ?n]]`)
	want(t, "audit", audit, `#{["dpo@example.com" 2]}`)

	// Purge an entity, then GC with no grace: its name leaves every file.
	if !bucketHas(t, dir, "Bob") {
		t.Fatal("Bob in no file before the purge: the scan proves nothing")
	}
	out = ok(t, "", "purge", url, `[[:db.purge/entity [:person/name "Bob"]]]`, "--gc", "--grace", "0s")
	if !strings.Contains(out, ":gc {:dry-run false") || field(t, out, "swept") == 0 {
		t.Errorf("purge --gc printed %s", out)
	}
	if bucketHas(t, dir, "Bob") {
		t.Error("Bob still in the bucket after purge --gc --grace 0s")
	}
	friends := ok(t, "", "query", url, "--history", `[:find ?n ?f :where [?e :person/name ?n] [?e :person/friend ?f]]`)
	want(t, "refs to the purged entity", friends, `#{}`)
	want(t, "names", ok(t, "", "query", url, `[:find [?n ...] :where [_ :person/name ?n]]`), `["Ann" "Cy"]`)
	ok(t, "", "verify", url)
	// Writers carry on.
	ok(t, "", "transact", url, `[{:person/name "Dee"}]`)
}

// TestPurgeErrors: bad purge data exits 1 with one stderr line naming the
// form, usage errors exit 2, and the bucket is unchanged either way.
func TestPurgeErrors(t *testing.T) {
	url, dir := fileURL(t, "purge-errors")
	newPeople(t, url)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"purge", url, `[]`}, 1, "no purge forms"},
		{[]string{"purge", url, `[[:db/add 1 :person/name "x"]]`}, 1, `form 0 [:db/add 1 :person/name "x"]: not a purge operation`},
		{[]string{"purge", url, `[[:db.purge/attribute [:person/name "Ann"] :person/nope]]`}, 1, "unknown attribute :person/nope"},
		{[]string{"purge", url, `[[:db.purge/entity [:person/name "Zed"]]]`}, 1, "no entity has or had :person/name"},
		{[]string{"purge", url, `[[:db.purge/entity [:person/name "Ann"]`}, 1, "invalid purge"},
		{[]string{"purge", url + "?as-of=1", `[[:db.purge/entity [:person/name "Ann"]]]`}, 1, "current value"},
		{[]string{"purge", "file://" + filepath.Join(t.TempDir(), "none"), `[[:db.purge/entity 5]]`}, 1, "no database"},
		{[]string{"transact", url, `[[:db.purge/entity [:person/name "Ann"]]]`}, 1, "use accrete purge"},
		{[]string{"purge"}, 2, "accrete purge"},
		{[]string{"purge", url, `[[:db.purge/entity 5]]`, "--grace", "1h"}, 2, "only go with --gc"},
		{[]string{"purge", url, `[[:db.purge/entity 5]]`, "--gc", "--dry-run"}, 2, "do not go together"},
		{[]string{"purge", url, `[[:db.purge/entity 5]]`, "--gc", "--grace", "-1s"}, 2, "negative"},
	}
	for _, c := range cases {
		snap := snapshot(t, dir)
		r := accrete(t, "", c.args...)
		if r.code != c.code || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("accrete %q: exit %d, stdout %q, stderr %q; want exit %d and one stderr line with %q",
				c.args, r.code, r.stdout, r.stderr, c.code, c.msg)
		}
		if d := diffSnapshots(snap, snapshot(t, dir)); d != "" {
			t.Errorf("accrete %q changed the bucket: %s", c.args, d)
		}
	}
}
