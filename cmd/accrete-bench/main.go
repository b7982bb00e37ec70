package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// errUsage marks a bad command line (exit status 2).
var errUsage = errors.New("accrete-bench: usage")

const usage = `usage: accrete-bench datascript [--variant full|classic] [--backend mem|file]
       [--warmup MS] [--sample MS] [--samples N] [--data FILE] [--aux FILE]
       [--parse-each] [--index-all] [--cpuprofile FILE] [--memprofile FILE]
       [--list] [BENCH...]

Runs DataScript's benchmark suite (shared/bench/datascript) on accrete and
prints one JSON line per bench, as bench.js does. --index-all types every
attribute and puts it in AVET (:db/index), as Datalevin's benchmark and AVE
index do: for comparing with Datalevin's published figures, not with
DataScript.`

// config is the parsed command line of the datascript subcommand.
type config struct {
	variant   string
	backend   backend
	tm        timing
	data, aux string
	parseEach bool
	indexAll  bool // every attribute :db/index (Datalevin's layout)
	list      bool
	names     []string
	cpuProf   string // write a CPU profile of the timed runs here
	memProf   string // write a heap profile here after the benches
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run is the command: args without the program name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "datascript" {
		return fmt.Errorf("%w: the only command is datascript", errUsage)
	}
	cfg, err := parseArgs(args[1:])
	if err != nil {
		return err
	}
	return datascript(ctx, cfg, stdout, stderr)
}

// parseArgs reads bench.js's flags (--name value or --name=value, anywhere
// among the bench names).
func parseArgs(args []string) (config, error) {
	dir := defaultDataDir()
	cfg := config{variant: "full", backend: backendMem,
		tm:   timing{warmup: 2000 * time.Millisecond, sample: 1000 * time.Millisecond, samples: 5},
		data: filepath.Join(dir, "people-20k.json"), aux: filepath.Join(dir, "aux-datasets.json")}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			cfg.names = append(cfg.names, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		switch name {
		case "parse-each", "list", "index-all":
			if hasVal {
				return cfg, fmt.Errorf("%w: --%s takes no value", errUsage, name)
			}
			switch name {
			case "list":
				cfg.list = true
			case "index-all":
				cfg.indexAll = true
			default:
				cfg.parseEach = true
			}
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return cfg, fmt.Errorf("%w: --%s needs a value", errUsage, name)
			}
			i++
			val = args[i]
		}
		switch name {
		case "variant":
			if val != "full" && val != "classic" {
				return cfg, fmt.Errorf("%w: --variant %q: want full or classic", errUsage, val)
			}
			cfg.variant = val
		case "backend":
			if val != string(backendMem) && val != string(backendFile) {
				return cfg, fmt.Errorf("%w: --backend %q: want mem or file", errUsage, val)
			}
			cfg.backend = backend(val)
		case "warmup", "sample":
			ms, err := strconv.ParseFloat(val, 64)
			if err != nil || ms < 0 {
				return cfg, fmt.Errorf("%w: --%s %q: want milliseconds >= 0", errUsage, name, val)
			}
			d := time.Duration(ms * float64(time.Millisecond))
			if name == "warmup" {
				cfg.tm.warmup = d
			} else {
				cfg.tm.sample = d
			}
		case "samples":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return cfg, fmt.Errorf("%w: --samples %q: want an integer >= 1", errUsage, val)
			}
			cfg.tm.samples = n
		case "data":
			cfg.data = val
		case "aux":
			cfg.aux = val
		case "cpuprofile":
			cfg.cpuProf = val
		case "memprofile":
			cfg.memProf = val
		default:
			return cfg, fmt.Errorf("%w: unknown flag --%s", errUsage, name)
		}
	}
	return cfg, nil
}

// defaultDataDir is ../shared/bench/datascript relative to the repository
// root (the nearest parent of the working directory with a go.mod), or
// relative to the working directory when there is none.
func defaultDataDir() string {
	const rel = "../shared/bench/datascript"
	wd, err := os.Getwd()
	if err != nil {
		return rel
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, rel)
		}
		if filepath.Dir(d) == d {
			return rel
		}
	}
}

// line is one output line, with bench.js's keys in bench.js's order.
type line struct {
	Bench     string    `json:"bench"`
	Variant   string    `json:"variant"`
	MedianMS  float64   `json:"median_ms"`
	MinMS     float64   `json:"min_ms"`
	MaxMS     float64   `json:"max_ms"`
	Iters     int       `json:"iters"`
	SamplesMS []float64 `json:"samples_ms"`
	Result    result    `json:"result,omitempty"`
}

// errLine is bench.js's line for a bench that could not run.
type errLine struct {
	Bench string `json:"bench"`
	Error string `json:"error"`
}

// sink keeps the last result of every op reachable, as bench.js's sink.
var sink any

// datascript runs the selected benches and prints one JSON line each. A
// bench that fails prints an error line; the run then goes on and returns
// an error at the end.
func datascript(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.list {
		for _, b := range benchList {
			fmt.Fprintln(stdout, b.name)
		}
		fmt.Fprintln(stdout, "q5-valuejoin")
		return nil
	}
	names := cfg.names
	if len(names) == 0 {
		for _, b := range benchList {
			names = append(names, b.name)
		}
	}
	for _, f := range []string{cfg.data, cfg.aux} {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "accrete-bench: %s does not exist: generating its data as workload.js does\n", f)
		}
	}
	people, err := loadPeople(cfg.data)
	if err != nil {
		return err
	}
	if cfg.variant == "classic" {
		for i := range people {
			people[i] = people[i].classic()
		}
	}
	aux, err := loadAux(cfg.aux)
	if err != nil {
		return err
	}
	parseEach = cfg.parseEach
	schema := schemaTx
	if cfg.indexAll {
		schema = schemaIndexAllTx
	}
	e, err := newEnvSchema(ctx, cfg.variant, cfg.backend, schema, people, aux)
	if err != nil {
		return err
	}
	defer e.close()
	meta, _ := json.Marshal(map[string]any{"go": runtime.Version(), "gomaxprocs": runtime.GOMAXPROCS(0),
		"engine": "accrete", "backend": cfg.backend, "variant": cfg.variant, "parse_each": cfg.parseEach, "index_all": cfg.indexAll,
		"warmup_ms": cfg.tm.warmup.Seconds() * 1000, "sample_ms": cfg.tm.sample.Seconds() * 1000, "samples": cfg.tm.samples})
	fmt.Fprintf(stderr, "%s\n", meta)
	if cfg.cpuProf != "" {
		f, err := os.Create(cfg.cpuProf)
		if err != nil {
			return fmt.Errorf("accrete-bench: cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("accrete-bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	enc := json.NewEncoder(stdout)
	var failed []string
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("accrete-bench: %w", err)
		}
		out, err := runBench(e, cfg, name)
		if err != nil {
			failed = append(failed, name)
			fmt.Fprintln(stderr, err)
			if err := enc.Encode(errLine{Bench: name, Error: err.Error()}); err != nil {
				return fmt.Errorf("accrete-bench: write: %w", err)
			}
			continue
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("accrete-bench: write: %w", err)
		}
	}
	if cfg.memProf != "" {
		// Before the databases are closed: what a GC cycle marks while
		// the benches run (the workload, the databases, the node cache)
		// is the live heap here.
		if err := writeHeapProfile(cfg.memProf); err != nil {
			return err
		}
	}
	if err := e.close(); err != nil {
		return fmt.Errorf("accrete-bench: clean up: %w", err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("accrete-bench: %d bench(es) failed: %s", len(failed), strings.Join(failed, " "))
	}
	return nil
}

// writeHeapProfile writes a heap profile to path, after a GC so that its
// in-use figures are current.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("accrete-bench: heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("accrete-bench: heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("accrete-bench: heap profile: %w", err)
	}
	return nil
}

// runBench prepares, times and checks one bench.
func runBench(e *env, cfg config, name string) (line, error) {
	mk, ok := findMaker(name)
	if !ok {
		return line{}, errors.New("unknown benchmark")
	}
	fn, err := mk(e)
	if err != nil {
		return line{}, err
	}
	var last any
	op := func() error {
		r, err := fn.op()
		if err != nil {
			return fmt.Errorf("accrete-bench: %s: %w", name, err)
		}
		last = r
		return nil
	}
	// One run before the timing warms the node cache of a file database
	// (and fails fast on an error).
	if err := op(); err != nil {
		return line{}, err
	}
	st, err := cfg.tm.run(op)
	if err != nil {
		return line{}, err
	}
	out := line{Bench: name, Variant: cfg.variant, MedianMS: prec5(st.median), MinMS: prec5(st.min),
		MaxMS: prec5(st.max), Iters: st.iters}
	for _, s := range st.samples {
		out.SamplesMS = append(out.SamplesMS, prec5(s))
	}
	if fn.describe != nil {
		if out.Result, err = fn.describe(last); err != nil {
			return line{}, fmt.Errorf("accrete-bench: %s: check: %w", name, err)
		}
	}
	sink = last
	return out, nil
}
