#!/usr/bin/env bash
# Soak: runs the randomized tests (the writer against its model on every
# backend, crash injection, GC, merge and purge under concurrent writers,
# the transaction model, the query and rule differential tests) round after
# round, each with fresh seeds and larger sizes than CI's, against the local
# S3, GCS and Azure emulators, until DURATION has passed or a test fails.
# A failing test prints its seed (ACCRETE_SEED=…, -diff.seed …) to rerun it.
#
# Usage: bash scripts/soak.sh [DURATION]   (default 30m; Ns, Nm or Nh)
# Exits 1 at the first failing round, 0 when the time is up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION=${1:-30m}

case $DURATION in
*h) secs=$((${DURATION%h} * 3600)) ;;
*m) secs=$((${DURATION%m} * 60)) ;;
*s) secs=${DURATION%s} ;;
*) secs=$DURATION ;;
esac
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
	echo "soak: duration $DURATION: want Ns, Nm or Nh" >&2
	exit 2
fi

# The rounds run inside scripts/test.sh, which starts the emulators (and
# makes the tests that need them fail rather than skip).
if [[ -z ${ACCRETE_SOAK_INNER:-} ]]; then
	ACCRETE_SOAK_INNER=1 exec bash scripts/test.sh bash "${BASH_SOURCE[0]}" "$DURATION"
fi

log() { printf '== soak %s: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

round() {
	# Storage and concurrency with the race detector, the model sizes
	# raised, then the CPU-heavy query checks without it.
	go test -count=1 -race -run 'TestModel$' ./writer/ -model.txs 600 &&
		go test -count=1 -race -run 'Crash|Concurrent|Race|Model' ./writer/ ./ops/ ./konserve/ ./reader/ &&
		go test -count=1 -run 'TestModel$' ./tx/ -tx.txs 4000 &&
		go test -count=1 -run 'Differential' ./query/ -diff.n 4000
}

end=$((SECONDS + secs))
n=0
while ((SECONDS < end)); do
	n=$((n + 1))
	log "round $n ($(((end - SECONDS) / 60)) min left)"
	if ! round; then
		log "round $n failed after $((SECONDS / 60)) min"
		exit 1
	fi
done
log "$n rounds passed in $((SECONDS / 60)) min"
