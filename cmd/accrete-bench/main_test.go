package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
)

// outLine is one JSON line of the command, decoded for checks.
type outLine struct {
	Bench     string             `json:"bench"`
	Variant   string             `json:"variant"`
	MedianMS  *float64           `json:"median_ms"`
	MinMS     float64            `json:"min_ms"`
	MaxMS     float64            `json:"max_ms"`
	Iters     int                `json:"iters"`
	SamplesMS []float64          `json:"samples_ms"`
	Result    map[string]float64 `json:"result"`
	Error     string             `json:"error"`
}

// runCmd runs the command in-process and decodes its JSON lines by bench.
func runCmd(t *testing.T, args ...string) map[string]outLine {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"datascript"}, args...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("run %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	out := map[string]outLine{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var l outLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("output line %q is not JSON: %v", sc.Text(), err)
		}
		if l.Error != "" {
			t.Errorf("%s: error line: %s", l.Bench, l.Error)
		}
		out[l.Bench] = l
	}
	return out
}

// want is the README's expected check of each bench (full variant).
var wantFull = map[string]map[string]float64{
	"q1":              {"count": 2469, "value_sum": 0},
	"q2":              {"count": 2469, "value_sum": 121504},
	"q2-switch":       {"count": 2469, "value_sum": 121504},
	"q3":              {"count": 1251, "value_sum": 61967},
	"q4":              {"count": 1251, "value_sum": 70708},
	"q5-shortcircuit": {"count": 0, "value_sum": 0},
	"qpred1":          {"count": 10073, "value_sum": 754890382},
	"qpred2":          {"count": 10073, "value_sum": 754890382},
	"rules-wide-3x3":  {"count": 102},
	"rules-long-10x3": {"count": 165},
	"pull-one":        {"json_len": 14935},
	"add-all":         {"datoms": 191088},
}

func checkLines(t *testing.T, got map[string]outLine, want map[string]map[string]float64, variant string, samples int) {
	t.Helper()
	for name, w := range want {
		l, ok := got[name]
		if !ok {
			t.Errorf("%s: no output line", name)
			continue
		}
		if !reflect.DeepEqual(l.Result, w) {
			t.Errorf("%s: result %v, want %v", name, l.Result, w)
		}
		if l.Variant != variant {
			t.Errorf("%s: variant %q, want %q", name, l.Variant, variant)
		}
		if l.MedianMS == nil || *l.MedianMS <= 0 || l.MinMS > *l.MedianMS || *l.MedianMS > l.MaxMS {
			t.Errorf("%s: median %v not within (0, min %v .. max %v]", name, l.MedianMS, l.MinMS, l.MaxMS)
		}
		if len(l.SamplesMS) != samples || l.Iters < samples {
			t.Errorf("%s: %d samples, %d iters; want %d samples and at least as many iters", name, len(l.SamplesMS), l.Iters, samples)
		}
	}
}

var tiny = []string{"--warmup", "0", "--sample", "0", "--samples", "1"}

// TestMemChecks runs the in-memory benches with the README's checks.
func TestMemChecks(t *testing.T) {
	var names []string
	for n := range wantFull {
		names = append(names, n)
	}
	got := runCmd(t, append(append([]string{"--backend", "mem"}, tiny...), names...)...)
	checkLines(t, got, wantFull, "full", 1)
}

// TestFileChecks runs read benches over a database committed to a file
// bucket and reopened read-only.
func TestFileChecks(t *testing.T) {
	names := []string{"q1", "q4", "qpred2", "rules-long-10x3", "pull-one"}
	got := runCmd(t, append(append([]string{"--backend=file"}, tiny...), names...)...)
	want := map[string]map[string]float64{}
	for _, n := range names {
		want[n] = wantFull[n]
	}
	checkLines(t, got, want, "full", 1)
}

// TestClassicChecks: the classic variant has 5 attributes, 100,000 datoms.
func TestClassicChecks(t *testing.T) {
	got := runCmd(t, append(append([]string{"--variant", "classic"}, tiny...), "add-all", "q4")...)
	checkLines(t, got, map[string]map[string]float64{
		"add-all": {"datoms": 100000},
		"q4":      {"count": 1251, "value_sum": 70708},
	}, "classic", 1)
}

// TestIndexAllChecks: with every attribute in AVET (--index-all) the
// query benches give the README's results, and the header says so.
func TestIndexAllChecks(t *testing.T) {
	names := []string{"q1", "q2", "q2-switch", "q3", "q4", "q5-shortcircuit", "qpred1", "qpred2", "rules-long-10x3"}
	var stderr bytes.Buffer
	var stdout bytes.Buffer
	args := append(append([]string{"datascript", "--index-all"}, tiny...), names...)
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (stderr %s)", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"index_all":true`) {
		t.Errorf("header does not record --index-all: %s", stderr.String())
	}
	got := map[string]outLine{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var l outLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got[l.Bench] = l
	}
	want := map[string]map[string]float64{}
	for _, n := range names {
		want[n] = wantFull[n]
	}
	checkLines(t, got, want, "full", 1)
}

// TestOtherBenchesRun runs the benches without a check once each, on tiny
// generated stand-ins where the real ones take seconds, and checks they
// print a timing line and no error.
func TestOtherBenchesRun(t *testing.T) {
	dir := t.TempDir()
	people := filepath.Join(dir, "people.json")
	writeEntities(t, people, genPeople(300, peopleSeed))
	args := append([]string{"--data", people, "--samples", "1", "--warmup", "0", "--sample", "0"},
		"add-1", "add-5", "init", "find-datoms", "retract-5", "pull-one-entities", "pull-many-entities",
		"pull-many", "pull-wildcard", "q5-valuejoin")
	got := runCmd(t, args...)
	for _, n := range args[8:] {
		l, ok := got[n]
		if !ok || l.MedianMS == nil {
			t.Errorf("%s: no timing line (got %+v)", n, l)
		}
	}
	if l := got["add-1"]; l.Result != nil {
		t.Errorf("add-1: result %v, want none (bench.js has no check)", l.Result)
	}
}

// writeEntities writes entities as the workload's JSON.
func writeEntities(t *testing.T, path string, es []entity) {
	t.Helper()
	var b strings.Builder
	b.WriteString("[")
	for i, e := range es {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("{")
		idj, _ := json.Marshal(e.id)
		b.WriteString(`":db/id":` + string(idj))
		for _, a := range e.attrs {
			k, _ := json.Marshal(a.name)
			v, _ := json.Marshal(a.v)
			b.WriteString("," + string(k) + ":" + string(v))
		}
		b.WriteString("}")
	}
	b.WriteString("]\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGeneratorMatchesFiles checks the Go port of workload.js (PRNG, draw
// order, shuffle) against the shared data files, bit for bit: retract-5's
// shuffle and the fallback when the files are missing depend on it.
func TestGeneratorMatchesFiles(t *testing.T) {
	dir := defaultDataDir()
	pf, af := filepath.Join(dir, "people-20k.json"), filepath.Join(dir, "aux-datasets.json")
	if _, err := os.Stat(pf); err != nil {
		t.Skipf("no shared data files to compare with (%v); the generator's own stats are checked in TestGeneratorStats", err)
	}
	people, err := loadPeople(pf)
	if err != nil {
		t.Fatal(err)
	}
	gen := genPeople(20000, peopleSeed)
	if len(people) != len(gen) {
		t.Fatalf("file has %d people, generator %d", len(people), len(gen))
	}
	for i := range gen {
		if !reflect.DeepEqual(people[i], gen[i]) {
			t.Fatalf("person %d: file %+v, generated %+v", i, people[i], gen[i])
		}
	}
	aux, err := loadAux(af)
	if err != nil {
		t.Fatal(err)
	}
	if g := genAux(); !reflect.DeepEqual(aux, g) {
		for k := range g {
			if !reflect.DeepEqual(aux[k], g[k]) {
				t.Errorf("aux %s differs from the generator (%d vs %d entities)", k, len(aux[k]), len(g[k]))
			}
		}
	}
}

// TestGeneratorStats checks the README's statistics of people20k.
func TestGeneratorStats(t *testing.T) {
	ps := genPeople(20000, peopleSeed)
	names := map[string]int{}
	draws, distinct := 0, 0
	for _, p := range ps {
		n, _ := p.get("name")
		names[n.(string)]++
		a, _ := p.get("alias")
		seen := map[any]bool{}
		for _, x := range a.([]any) {
			draws++
			if !seen[x] {
				seen[x] = true
				distinct++
			}
		}
	}
	want := map[string]int{"Ivan": 2469, "Petr": 2432, "Sergei": 2524, "Oleg": 2588, "Yuri": 2504, "Dmitry": 2429, "Fedor": 2557, "Denis": 2497}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("name counts %v, want %v", names, want)
	}
	if draws != 89913 || distinct != 71088 {
		t.Errorf("alias draws %d / distinct %d, want 89913 / 71088", draws, distinct)
	}
	if got := ps[0].tempid(); got != "8754" {
		t.Errorf("first person after the shuffle is %q, want \"8754\"", got)
	}
	if n := len(genWide(4, 5, 45)); n != 781 {
		t.Errorf("wide-4x5 has %d entities, want 781", n)
	}
}

func TestParseArgs(t *testing.T) {
	cfg, err := parseArgs([]string{"q1", "--variant", "classic", "--warmup=5", "--sample", "2.5", "--samples", "3", "--backend", "file", "--parse-each", "--index-all", "q2"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.variant != "classic" || cfg.backend != backendFile || !cfg.parseEach || !cfg.indexAll ||
		cfg.tm != (timing{warmup: 5 * time.Millisecond, sample: 2500 * time.Microsecond, samples: 3}) ||
		!reflect.DeepEqual(cfg.names, []string{"q1", "q2"}) {
		t.Errorf("parsed %+v", cfg)
	}
	for _, bad := range [][]string{{"--variant", "x"}, {"--backend", "s3"}, {"--samples", "0"}, {"--warmup", "-1"}, {"--bogus", "1"}, {"--sample"}, {"--list=1"}, {"--index-all=1"}} {
		if _, err := parseArgs(bad); !errors.Is(err, errUsage) {
			t.Errorf("parseArgs(%q): error %v, want errUsage", bad, err)
		}
	}
	if err := run(context.Background(), []string{"bench"}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Errorf("run without the datascript command: %v, want errUsage", err)
	}
}

// TestProfiles checks that --cpuprofile and --memprofile write profiles
// (gzipped protocol buffers, as runtime/pprof writes them).
func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "heap.prof")
	args := append([]string{"datascript", "--cpuprofile", cpu, "--memprofile", mem}, tiny...)
	if err := run(context.Background(), append(args, "pull-one"), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cpu, mem} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: %d bytes, not a gzipped profile", filepath.Base(f), len(b))
		}
	}
	args = append([]string{"datascript", "--memprofile", filepath.Join(dir, "no", "such", "dir")}, tiny...)
	if err := run(context.Background(), append(args, "pull-one"), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "heap profile") {
		t.Errorf("an unwritable --memprofile: error %v, want one naming the heap profile", err)
	}
}

func TestUnknownBench(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"datascript", "--warmup", "0", "--sample", "0", "--samples", "1", "nope"}, &stdout, &stderr)
	if err == nil {
		t.Error("an unknown bench did not fail the run")
	}
	if got, want := strings.TrimSpace(stdout.String()), `{"bench":"nope","error":"unknown benchmark"}`; got != want {
		t.Errorf("output %s, want %s (bench.js's line)", got, want)
	}
}

// TestPrec5 pins JavaScript's +x.toPrecision(5).
func TestPrec5(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{7.561234, 7.5612}, {1133.44, 1133.4}, {0.80312345, 0.80312}, {123456.7, 123460}, {0.000123456, 0.00012346}, {2, 2},
	} {
		if got := prec5(c.in); got != c.want {
			t.Errorf("prec5(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
	if got := median([]float64{3, 1, 4, 2}); got != 3 {
		t.Errorf("median of 4 samples = %v, want 3 (bench.js takes index n/2)", got)
	}
}

func TestCheck(t *testing.T) {
	rows := query.Relation{{int64(1), "Ivanov", int64(30)}, {int64(2), edn.Keyword("male"), int64(5)}}
	got := check(rows, []int{1, 2})
	want := result{"count": 2, "value_sum": int64(6 + 30 + 4 + 5)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("check = %v, want %v", got, want)
	}
}

func TestJSONLen(t *testing.T) {
	v := map[edn.Keyword]any{"name": "Ivan", "follows": edn.Vector{map[edn.Keyword]any{"db/id": int64(5)}}}
	// {"name":"Ivan","follows":[{":db/id":5}]}
	if n, err := jsonLen(v); err != nil || n != 40 {
		t.Errorf("jsonLen = %d, %v; want 40", n, err)
	}
}

func TestParseEntities(t *testing.T) {
	es, err := parseEntities([]byte(`[{":db/id":"7","name":"Ivan","alias":["a","b"],"age":3,"w":1.5},{":db/id":4,"follows":5}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []entity{
		{id: "7", attrs: []attrVal{{"name", "Ivan"}, {"alias", []any{"a", "b"}}, {"age", int64(3)}, {"w", 1.5}}},
		{id: int64(4), attrs: []attrVal{{"follows", int64(5)}}},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("parsed %+v, want %+v", es, want)
	}
	m := es[1].txMap()
	wantMap := edn.Map{{Key: edn.Keyword("db/id"), Val: "4"}, {Key: edn.Keyword("follows"), Val: "5"}}
	if !reflect.DeepEqual(m, wantMap) {
		t.Errorf("txMap %v, want %v", m, wantMap)
	}
	for _, bad := range []string{`{}`, `[1]`, `[{"a":{"b":1}}]`, `[{":db/id":true}]`, `[{"a":null}]`, `[{"a":[[1]]}]`, `[] []`, `[{"a":1}`} {
		if _, err := parseEntities([]byte(bad)); !errors.Is(err, errData) {
			t.Errorf("parseEntities(%s): %v, want errData", bad, err)
		}
	}
}

var fuzzSeeds = []string{
	`[{":db/id":"1","name":"Ivan","alias":[],"age":1,"follows":["2","3"]}]`,
	`{"wide-3x3":[{":db/id":"1","id":1}],"long-10x3":[{":db/id":1,"follows":2}]}`,
	`[1e400]`, `[{"":""}]`, `[`, `{"a":[{"b":-0.5}]}`,
}

// FuzzParseEntities: the decoder never panics, and what it accepts turns
// into transaction maps with one entry per attribute (plus :db/id).
func FuzzParseEntities(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := parseEntities(data)
		if err != nil {
			if !errors.Is(err, errData) {
				t.Fatalf("error %v does not wrap errData", err)
			}
			return
		}
		for _, e := range es {
			m := e.txMap()
			want := len(e.attrs)
			if e.id != nil {
				want++
			}
			if len(m) != want {
				t.Fatalf("txMap of %+v has %d entries, want %d", e, len(m), want)
			}
		}
	})
}

// FuzzParseAux: the aux decoder never panics and classifies its errors.
func FuzzParseAux(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := parseAux(data); err != nil && !errors.Is(err, errData) {
			t.Fatalf("error %v does not wrap errData", err)
		}
	})
}

// TestPullEntitiesMatchPull checks that the entity benches walk what their
// pull counterparts pull: pull-many-entities the tree pull-many returns,
// pull-one-entities its :name-only form (bench.js has no check for them).
func TestPullEntitiesMatchPull(t *testing.T) {
	ctx := context.Background()
	e, err := newEnv(ctx, "full", backendMem, genPeople(50, peopleSeed), genAux())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.close() })
	for _, c := range []struct {
		keys    []edn.Keyword
		walk    maker
		pattern string
	}{
		{manyKeys, mkPullEntities[[6]any](manyKeys), pullManyPattern},
		{[]edn.Keyword{"name"}, mkPullEntities[[1]any]([]edn.Keyword{"name"}), `[:name {:follows ...}]`},
	} {
		walk, err := c.walk(e)
		if err != nil {
			t.Fatal(err)
		}
		pull, err := mkPull(c.pattern, false)(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := walk.op()
		if err != nil {
			t.Fatal(err)
		}
		want, err := pull.op()
		if err != nil {
			t.Fatal(err)
		}
		g, w := pullTreeCanon(walkMap(got, c.keys)), pullTreeCanon(want)
		if g != w {
			t.Errorf("%v: entity walk\n%.400s\npull\n%.400s", c.keys, g, w)
		}
		if n := strings.Count(g, "{"); n < 100 {
			t.Errorf("%v: the walk reached %d entities, want the whole wide-4x5 tree", c.keys, n)
		}
	}
}

// walkMap turns an entity walk's tree of *walkNode into a pull result's
// form: a map per entity of the keys it has, and :follows.
func walkMap(v any, keys []edn.Keyword) any {
	m := map[edn.Keyword]any{}
	var vals, follows reflect.Value
	switch n := v.(type) {
	case *walkNode[[1]any]:
		vals, follows = reflect.ValueOf(n.vals[:]), reflect.ValueOf(n.follows)
	case *walkNode[[6]any]:
		vals, follows = reflect.ValueOf(n.vals[:]), reflect.ValueOf(n.follows)
	default:
		return fmt.Sprintf("not a walk node: %T", v)
	}
	for i, k := range keys {
		if x := vals.Index(i).Interface(); x != nil {
			m[k] = x
		}
	}
	var fs []any
	for i := range follows.Len() {
		fs = append(fs, walkMap(follows.Index(i).Addr().Interface(), keys))
	}
	m["follows"] = fs
	return m
}

// pullTreeCanon writes a pull result or an entity walk's tree in one form:
// keys sorted, collections' elements sorted, a missing :follows as empty.
func pullTreeCanon(v any) string {
	var kv map[string]any
	switch m := v.(type) {
	case edn.Map:
		kv = map[string]any{}
		for _, en := range m {
			kv[fmt.Sprint(en.Key)] = en.Val
		}
	case map[edn.Keyword]any:
		kv = map[string]any{}
		for k, x := range m {
			kv[fmt.Sprint(k)] = x
		}
	case []edn.Map, []any, edn.Vector, edn.Set:
		var xs []string
		rv := reflect.ValueOf(v)
		for i := range rv.Len() {
			xs = append(xs, pullTreeCanon(rv.Index(i).Interface()))
		}
		slices.Sort(xs)
		return "[" + strings.Join(xs, " ") + "]"
	default:
		return fmt.Sprint(v)
	}
	if _, ok := kv[":follows"]; !ok {
		kv[":follows"] = []any{}
	}
	keys := slices.Sorted(maps.Keys(kv))
	var b strings.Builder
	b.WriteString("{")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s ", k, pullTreeCanon(kv[k]))
	}
	b.WriteString("}")
	return b.String()
}
