#!/usr/bin/env bash
# bench-datascript.sh: DataScript's benchmark suite side by side on DataScript
# (Node, npm datascript 1.8.1: shared/bench/datascript/bench.js) and on accrete
# (go run ./cmd/accrete-bench datascript), alternating per bench, same variant
# and timing flags, then a table of medians and ratios.
#
# usage: scripts/bench-datascript.sh [--variant full|classic] [--warmup MS]
#          [--sample MS] [--samples N] [--runs N] [BENCH...]
#
#   default benches: every bench of bench.js's default list
#   --runs N              run each bench N times (default 1), the engines
#                         alternating within each round, and report each
#                         engine's median of its N medians: DataScript's own
#                         time moves by 20-50% from one process to the next here
#   DATASCRIPT_BENCH_DIR  the workload folder (default: ../shared/bench/datascript
#                         relative to the repository root); it is copied to a
#                         temp dir, npm install runs there, nothing is written to it
#   RESULTS_DIR           keep the raw JSON lines here (default: discarded)
#
# Columns: datascript ms | accrete mem ms | accrete file ms (database committed
# to a file bucket, reopened read-only, warm cache) | ratio datascript/accrete
# (mem, file) | check (the two result checks are equal). Transaction benches
# (add-*, init, retract-5) run in memory on both accrete columns, so the file
# column repeats "mem". The machine's load average is printed before and after:
# on a shared machine, compare several runs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${DATASCRIPT_BENCH_DIR:-$repo/../shared/bench/datascript}
variant=full
runs=1
flags=()
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) variant=$2; shift 2 ;;
    --warmup|--sample|--samples) flags+=("$1" "$2"); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    --*) echo "bench-datascript.sh: unknown flag $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done

[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-datascript.sh: --runs wants an integer >= 1, not '$runs'" >&2; exit 2; }
command -v node >/dev/null || { echo "bench-datascript.sh: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "bench-datascript.sh: npm is not installed" >&2; exit 1; }
[ -f "$src/bench.js" ] || { echo "bench-datascript.sh: no bench.js in $src" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/datascript"
chmod -R u+w "$work/datascript"
echo "# npm install (datascript $(node -p "require('$work/datascript/package.json').dependencies.datascript"))" >&2
(cd "$work/datascript" && npm install --no-audit --no-fund --loglevel=error >&2)
(cd "$repo" && go build -o "$work/accrete-bench" ./cmd/accrete-bench)

if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <("$work/accrete-bench" datascript --list | grep -vx 'q5-valuejoin')
fi
data=(--data "$work/datascript/people-20k.json" --aux "$work/datascript/aux-datasets.json")
raw=${RESULTS_DIR:-$work/results}
mkdir -p "$raw"

echo "# $(date -u +%FT%TZ) variant=$variant flags=${flags[*]:-(defaults)} runs=$runs $(nproc) cpus, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-18s | %14s | %14s | %15s | %9s | %10s | %-5s |\n' bench "datascript ms" "accrete mem ms" "accrete file ms" "ratio mem" "ratio file" check
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "--------------------" "----------------" "----------------" "-----------------" "-----------" "------------" "-------"

# one bench, one engine: the bench's JSON line (or an error line)
run_ds() { (cd "$work/datascript" && node bench.js --variant "$variant" "${flags[@]}" "$1" 2>/dev/null | tail -n 1) || echo '{"error":"node failed"}'; }
run_ac() { "$work/accrete-bench" datascript --variant "$variant" --backend "$2" "${flags[@]}" "${data[@]}" "$1" 2>/dev/null | tail -n 1 || echo '{"error":"accrete-bench failed"}'; }

# median_line LINE...: the first line with median_ms replaced by the median
# of all the lines' median_ms (the lower middle one for an even count), or the
# first error line, or an error line when the runs' result checks differ
median_line() {
  node -e '
    const ls = process.argv.slice(1).map((s) => { try { return JSON.parse(s); } catch (e) { return { error: "bad output" }; } });
    const bad = ls.find((l) => l.median_ms === undefined && !l.mem);
    if (bad) { console.log(JSON.stringify(bad)); process.exit(0); }
    if (ls[0].mem) { console.log(JSON.stringify(ls[0])); process.exit(0); }
    const res = (l) => JSON.stringify(l.result === undefined ? null : Object.fromEntries(Object.entries(l.result).sort()));
    if (ls.some((l) => res(l) !== res(ls[0]))) { console.log(JSON.stringify({ error: "result checks differ between runs: " + ls.map(res).join(" ") })); process.exit(0); }
    const ms = ls.map((l) => l.median_ms).sort((a, b) => a - b);
    console.log(JSON.stringify({ ...ls[0], median_ms: ms[Math.floor((ms.length - 1) / 2)], runs_ms: ms }));
  ' "$@"
}

for b in "${names[@]}"; do
  dss=(); mems=(); files=()
  for ((r = 0; r < runs; r++)); do
    ds=$(run_ds "$b")
    mem=$(run_ac "$b" mem)
    case "$b" in
      add-*|init|retract-5) file='{"mem":true}' ;;
      *) file=$(run_ac "$b" file) ;;
    esac
    printf '%s\n' "$ds" >> "$raw/datascript.jsonl"
    printf '%s\n' "$mem" >> "$raw/accrete-mem.jsonl"
    [ "$file" = '{"mem":true}' ] || printf '%s\n' "$file" >> "$raw/accrete-file.jsonl"
    dss+=("$ds"); mems+=("$mem"); files+=("$file")
  done
  ds=$(median_line "${dss[@]}")
  mem=$(median_line "${mems[@]}")
  file=$(median_line "${files[@]}")
  node -e '
    const [b, ds, mem, file] = process.argv.slice(1);
    const p = (s) => { try { return JSON.parse(s); } catch (e) { return { error: "bad output" }; } };
    const d = p(ds), m = p(mem), f = p(file);
    const ms = (r) => r.mem ? "mem" : (r.median_ms === undefined ? "ERR" : String(r.median_ms));
    const ratio = (r) => (d.median_ms && r.median_ms) ? (d.median_ms / r.median_ms).toFixed(2) + "x" : "-";
    const key = (r) => JSON.stringify(r.result === undefined ? null : Object.fromEntries(Object.entries(r.result).sort()));
    let ok = key(d) === key(m) && (f.mem || key(d) === key(f));
    const check = d.result === undefined ? (ok ? "-" : "DIFF") : (ok ? "ok" : "DIFF");
    const pad = (s, n, left) => left ? s.padEnd(n) : s.padStart(n);
    console.log(`| ${pad(b, 18, 1)} | ${pad(ms(d), 14)} | ${pad(ms(m), 14)} | ${pad(ms(f), 15)} | ${pad(ratio(m), 9)} | ${pad(f.mem ? "-" : ratio(f), 10)} | ${pad(check, 5, 1)} |`);
    if (check === "DIFF") console.error(`# ${b}: datascript ${key(d)} accrete mem ${key(m)} file ${f.mem ? "-" : key(f)}`);
  ' "$b" "$ds" "$mem" "$file"
done
echo "# done $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg); raw JSON lines: ${RESULTS_DIR:-discarded (set RESULTS_DIR to keep them)}"
