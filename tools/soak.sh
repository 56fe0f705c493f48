#!/usr/bin/env bash
# Crash soak: runs test/t/009_crash_soak.pl with more rounds than the test
# command's 5 of each kind (SIGKILL of the training worker, SIGKILL of the
# postmaster, mid-training), then sums up the "soak round" lines it prints:
# rounds, failed rounds, time per round, time from the kill until the
# server accepts queries again, time of the training after the restart.
#     tools/soak.sh [rounds of each kind]          (default 20)
# Runs against the installed pgvision of PG_BINDIR (default: pg_config's
# bindir; PGXS_DIR, the pgxs directory holding pg_regress and the test
# modules, follows it), as the cluster's non-root user when run as root.
# Exits non-zero when a round failed.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
rounds=${1:-20}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "usage: tools/soak.sh [rounds of each kind]" >&2; exit 2; }
SHARED=$(pgv_shared_dir)
PG_BINDIR=${PG_BINDIR:-$("$(pgv_pg_config)" --bindir)}
PGXS_DIR=${PGXS_DIR:-$(cd "$PG_BINDIR/../lib/pgxs" && pwd)}

# The server runs as a user that may not read the checkout: give it a copy.
SCRATCH=$(mktemp -d /tmp/pgvision-soak.XXXXXX)
cp -r "$PGV_ROOT/test" "$SCRATCH/test"
mkdir -p "$SCRATCH/tap"
chmod -R a+rwX "$SCRATCH"
log=$SCRATCH/soak.log

pgv_log "crash soak: $rounds rounds of each kill (test/t/009_crash_soak.pl)"
status=0
(cd "$SCRATCH/test" && pgv_as_user env PATH="$PG_BINDIR:$PATH" TESTDIR="$SCRATCH/tap" \
	PGVISION_SHARED="$SHARED" PGVISION_TESTDATA="$SCRATCH/test/data" PGVISION_SOAK_ROUNDS="$rounds" \
	PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
	prove -I "$PGXS_DIR/src/test/perl" t/009_crash_soak.pl) > "$log" 2>&1 || status=$?
grep -E '^# soak' "$log" || true

# Lines look like: "# soak round 3 postmaster: killed at progress 0.23, old
# processes gone 0.17 s, accepting queries 1.92 s after the kill, new
# training 2.40 s, round 8.85 s, ok".
pgv_log "summary"
awk '
	/^# soak round / {
		kind = $5; sub(":", "", kind)
		if (!(kind in n)) kinds++
		n[kind]++
		if ($NF != "ok") bad[kind]++
		for (i = 1; i <= NF; i++) {
			if ($i == "gone") gone[kind] += $(i + 1)
			if ($i == "queries") { r = $(i + 1); rec[kind] += r; if (r > recmax[kind]) recmax[kind] = r }
			if ($i == "training") train[kind] += $(i + 1)
			if ($i == "round" && i > 3) { t = $(i + 1); round[kind] += t; if (t > roundmax[kind]) roundmax[kind] = t }
		}
	}
	END {
		printf "%-10s %6s %8s %14s %16s %14s %15s\n", "kill", "rounds", "failed", "round s (max)",
			"recover s (max)", "processes s", "new training s"
		for (k in n)
			printf "%-10s %6d %8d %7.2f (%4.1f) %8.2f (%5.2f) %14.2f %15.2f\n", k, n[k], bad[k] + 0,
				round[k] / n[k], roundmax[k], rec[k] / n[k], recmax[k], gone[k] / n[k], train[k] / n[k]
		if (kinds == 0) print "no round ran"
	}' "$log"
echo "recover: from the kill until the server answers a query; processes: until the old"
echo "processes are gone (worker kill: until the postmaster begins its restart)"
if [ "$status" != 0 ]; then
	echo "the soak FAILED (exit $status); its log: $log, the server logs: $SCRATCH/tap/tmp_check/log" >&2
	grep -E '^(not ok|#   Failed)' "$log" | head -40 >&2 || true
	exit 1
fi
rm -rf "$SCRATCH"
