#!/bin/bash
# bench_parallel_scan.sh: issue 12 part 5, measured: a scan predicting
# every row with 0, 1 and 2 parallel workers (each run in a new
# connection, so every worker's first prediction is in it: with the shared
# prepared weights a worker maps the network instead of building it), and
# one prediction with pgvision.threads 1 and 2.  Not a test: run it by hand
# after tools/bench_first_call.sh, against the same cluster and database.
#
#   PGHOST=/tmp PGPORT=54391 PGUSER=postgres tools/bench_parallel_scan.sh [ROWS] [REPEAT]
#
# ROWS (default 144) photos of the fruit set, repeated, in a table spread
# over pages by FILLFACTOR (default 10); REPEAT (default 5)
# interleaved rounds; medians.  Also the time of the same parallel plan
# predicting nothing (the fixed cost of the workers, which a small table
# does not amortize).  Rates are rows per second of the whole
# statement (wall time): on a machine other jobs load, compare the ratios
# of one run only.
#
# What "N workers" means on 2 cores: with parallel_leader_participation on
# (PostgreSQL's default) the leader scans rows too, so "1 worker" is
# already two processes on the two cores and "2 workers" three.  The issue's
# comparison (2 workers against 1) is therefore also run with
# parallel_leader_participation off, where N workers are exactly N
# processes doing the work (the leader only gathers; for 1 worker the plan
# is forced parallel, see force_one): the line "without the leader".
# (Until 4 December 2026 that 1-worker plan was the serial one, the leader
# predicting alone with no worker launched.)  LEADER=off runs only that
# form; LEADER=on only the first.
#
# PAD (default 0) adds that many bytes of inline padding to each row, so
# that fewer rows share a heap page: a parallel scan hands out whole pages,
# and with 12 rows a page (fillfactor 10) the last page can leave one
# process idle for 12 predictions.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" && pwd)
ROWS=${1:-144}
REPEAT=${2:-5}
DB=pgvision_first_call
PROJECT=${PROJECT:-mobilenet_v2_int8}
IMAGE="$SHARED/images/cat.bmp"
PSQL="psql -qAt -d $DB -v ON_ERROR_STOP=1"
OUT=$(mktemp -d "${TMPDIR:-/tmp}/pgvision_parallel.XXXXXX")

$PSQL <<EOF
DROP TABLE IF EXISTS photos;
-- The photos live in TOAST, so a heap row is a few dozen bytes and $ROWS
-- rows would fit on one or two pages, and a parallel scan hands out whole
-- pages: one process would get every row.  A low fillfactor spreads them.
CREATE TABLE photos (id bigint, photo bytea, pad text) WITH (fillfactor = ${FILLFACTOR:-10});
ALTER TABLE photos ALTER pad SET STORAGE PLAIN;
INSERT INTO photos
SELECT row_number() OVER (), pg_read_binary_file(m.file), repeat('x', ${PAD:-0})
  FROM manifest m, generate_series(1, ceil($ROWS / (SELECT count(*) FROM manifest)::float)::int) g
 LIMIT $ROWS;
ALTER TABLE photos SET (parallel_workers = 2);
VACUUM ANALYZE photos;
EOF
echo "photos: $($PSQL -c "SELECT pg_relation_size('photos') / current_setting('block_size')::int") heap pages for $ROWS rows" >&2

LEADER=${LEADER:-both}
# Without the leader a 1-worker plan costs what the serial one does, and
# the planner keeps the serial plan (the leader alone predicts, no worker
# is launched); force_parallel_mode (debug_parallel_query from PostgreSQL
# 16) puts the serial plan into one worker instead, so "1 worker" is one.
force_one() {
	if [ "$1" = 1 ] && [ "$2" = off ]; then
		echo "SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
			THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false)"
	else
		echo "SELECT 1"
	fi
}
scan() {
	local workers=$1 leader=${2:-on}
	$PSQL -c "SET max_parallel_workers_per_gather = $workers" -c "SET parallel_setup_cost = 0" \
		-c "$(force_one "$workers" "$leader")" \
		-c "SET parallel_leader_participation = $leader" \
		-c "SET parallel_tuple_cost = 0" -c "SET min_parallel_table_scan_size = 0" \
		-c '\timing on' -c "SELECT count(*) FROM photos, cv_predict('$PROJECT', photo) p" |
		awk '/^Time:/ { print $2 }'
}

# The fixed cost of a parallel plan on this machine, nothing predicted:
# the scan's plan with generate_series(1, length(photo)) in cv_predict's
# place and a filter no row passes, so the time is PostgreSQL's own worker
# launch (fork, backend start, plan and snapshot restore) and shutdown.
launch() {
	local workers=$1
	$PSQL -c "SET max_parallel_workers_per_gather = $workers" -c "SET parallel_setup_cost = 0" \
		-c "$(force_one "$workers" off)" \
		-c "SET parallel_leader_participation = off" \
		-c "SET parallel_tuple_cost = 0" -c "SET min_parallel_table_scan_size = 0" \
		-c '\timing on' -c "SELECT count(*) FROM photos, generate_series(1, length(photo)) g WHERE id < 0" |
		awk '/^Time:/ { print $2 }'
}

# one warm prediction, 20 times, at a thread count: the median ms
single() {
	local threads=$1 q i
	q="SELECT count(*) FROM cv_predict('$PROJECT', pg_read_binary_file('$IMAGE'))"
	{
		echo "SET pgvision.threads = $threads;"
		echo "$q;"
		echo '\timing on'
		for i in $(seq 20); do echo "$q;"; done
	} | $PSQL | awk '/^Time:/ { print $2 }' | sort -n >"$OUT/last"
	head -1 "$OUT/last" >>"$OUT/best.$threads"
	awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' "$OUT/last"
}

echo "== $REPEAT rounds of $ROWS rows" >&2
for r in $(seq "$REPEAT"); do
	if [ "$LEADER" != off ]; then
		for w in 0 1 2; do scan $w >>"$OUT/scan.$w"; done
	fi
	if [ "$LEADER" != on ]; then
		for w in 1 2; do scan $w off >>"$OUT/noleader.$w"; done
	fi
	for t in 1 2; do single $t >>"$OUT/single.$t"; done
	for w in 1 2; do launch $w >>"$OUT/launch.$w"; done
	printf '.' >&2
done
echo >&2

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
if [ "$LEADER" != off ]; then
s0=$(median <"$OUT/scan.0")
s1=$(median <"$OUT/scan.1")
s2=$(median <"$OUT/scan.2")
fi
t1=$(median <"$OUT/single.1")
t2=$(median <"$OUT/single.2")
echo
echo "$PROJECT, pgvision.prepared_weights = $($PSQL -c 'SHOW pgvision.prepared_weights' 2>/dev/null || echo on), medians of $REPEAT"
[ "$LEADER" = off ] || awk -v n="$ROWS" -v a="$s0" -v b="$s1" -v c="$s2" 'BEGIN {
	printf "scan of %d rows: 0 workers %.0f ms (%.1f rows/s), 1 worker %.0f ms (%.1f rows/s), 2 workers %.0f ms (%.1f rows/s)\n", n, a, n * 1000 / a, b, n * 1000 / b, c, n * 1000 / c
	printf "2 workers against 1: %.2fx; against none: %.2fx\n", b / c, a / c }'
if [ "$LEADER" != on ]; then
	awk -v n="$ROWS" -v b="$(median <"$OUT/noleader.1")" -v c="$(median <"$OUT/noleader.2")" \
		-v a="${s0:-0}" 'BEGIN {
	printf "without the leader (parallel_leader_participation off): 1 worker %.0f ms (%.1f rows/s), 2 workers %.0f ms (%.1f rows/s): 2 workers against 1: %.2fx", b, n * 1000 / b, c, n * 1000 / c, b / c
	if (a > 0) printf "; against none: %.2fx", a / c
	printf "\n" }'
fi
awk -v a="$(median <"$OUT/launch.1")" -v b="$(median <"$OUT/launch.2")" 'BEGIN {
	printf "a parallel plan that predicts nothing (PostgreSQL'"'"'s worker launch, leader off): 1 worker %.1f ms, 2 workers %.1f ms\n", a, b }'
awk -v a="$t1" -v b="$t2" 'BEGIN { printf "one prediction: threads 1 %.2f ms, threads 2 %.2f ms: %.2fx\n", a, b, a / b }'
awk -v a="$(sort -n "$OUT/best.1" | head -1)" -v b="$(sort -n "$OUT/best.2" | head -1)" \
	'BEGIN { printf "one prediction, best of all rounds: threads 1 %.2f ms, threads 2 %.2f ms: %.2fx\n", a, b, a / b }'
echo "raw figures: $OUT"
