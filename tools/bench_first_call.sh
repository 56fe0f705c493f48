#!/bin/bash
# bench_first_call.sh: the first prediction of a new connection with an
# imported backbone, with and without the shared prepared weights
# (docs/backbones.md, "Shared prepared weights"), and what a backend then
# holds in private memory.  Not a test: run it by hand against a running
# cluster where pgvision is installed, as a superuser on the same host
# (it reads the backend's /proc/self/smaps_rollup and the files under the
# data directory).
#
#   PGHOST=/tmp PGPORT=54391 PGUSER=postgres tools/bench_first_call.sh [REPEAT]
#
# It creates a database pgvision_first_call (dropped first if it exists)
# with mobilenet_v2 and mobilenet_edgetpu imported, and one small published
# project per backbone and engine (float, int8), trained on the fruit set.
# Then, REPEAT times (default 7), interleaved so that the machine's load
# falls on every case alike, for each backbone and engine, in a new
# connection each:
#   private  pgvision.prepared_weights = off: the net built in the backend
#            from the stored file (what every backend did before)
#   creator  the prepared file removed first: built, written, then mapped
#   mapped   the file there: mapped and validated
# It prints the medians of the first cv_predict after loading the library
# (wall time, and the backend's own CPU time from /proc/self/schedstat,
# which a busy machine inflates far less), of a second one (steady state),
# of the library's LOAD, and of the backend's Anonymous and Pss memory after
# the second (smaps_rollup), less a backend that only loaded the library.
# SKIP_SETUP=1 reuses the database of an earlier run.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" && pwd)
REPEAT=${1:-7}
DB=pgvision_first_call
SET="$SHARED/datasets/mslearn-fruit-cls"
IMAGE="$SHARED/images/cat.bmp"
OUT=$(mktemp -d "${TMPDIR:-/tmp}/pgvision_first_call.XXXXXX")

PSQL="psql -qAt -d $DB -v ON_ERROR_STOP=1"
BACKBONES="mobilenet_v2 mobilenet_edgetpu"
ENGINES="float int8"
if [ "${SKIP_SETUP:-0}" != 1 ]; then
psql -qAt -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
$PSQL <<EOF >/dev/null
CREATE EXTENSION pgvision;
SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$SHARED/models/mobilenet_v2_1.0_224_quant.tflite'));
SELECT cv_import_backbone('mobilenet_edgetpu', pg_read_binary_file('$SHARED/models/mobilenet_edgetpu_224_1.0_uint8.tflite'));
CREATE TABLE manifest AS
SELECT '$SET/' || split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file('$SET/manifest.csv'), E'\\r?\\n') AS line
 WHERE line LIKE 'images/%';
EOF

echo "== training one project per backbone and engine (fruit set)" >&2
for b in $BACKBONES; do
	for e in $ENGINES; do
		p=${b}_$e
		$PSQL -c "SET pgvision.engine = '$e'" \
			-c "SELECT cv_create_project('$p', domain => '$b')" \
			-c "SELECT count(cv_add_image('$p', pg_read_binary_file(file), ARRAY[tag])) FROM manifest" \
			-c "SELECT cv_publish(cv_train('$p', wait => true), 'bench')" >/dev/null
	done
done
fi
PGDATA_DIR=$($PSQL -c "SHOW data_directory")

# hash of a backbone: the prefix of its prepared files
hash_of() { $PSQL -c "SELECT encode(sha256, 'hex') FROM cv_backbones WHERE domain = '$1'"; }

MEMQ="SELECT line FROM regexp_split_to_table(pg_read_file('/proc/self/smaps_rollup'), E'\\n') line WHERE line ~ '^(Pss|Anonymous):'"
# the backend's time on a CPU so far (ns, /proc/self/schedstat): what a
# statement costs whatever else the machine runs (not its waits for a core)
CPUQ="SELECT 'CPU ' || split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)"

# One new connection, the library loaded first (as shared_preload_libraries
# would have it): library load, first and second prediction (wall ms), their
# CPU ms, then Anonymous and Pss (kB).
one() {
	local project=$1 shared=$2
	local q="SELECT count(*) FROM cv_predict('$project', pg_read_binary_file('$IMAGE'))"
	$PSQL -c "SET pgvision.prepared_weights = $shared" -c '\timing on' -c "LOAD 'pgvision'" \
		-c '\timing off' -c "$CPUQ" -c '\timing on' -c "$q" -c '\timing off' -c "$CPUQ" \
		-c '\timing on' -c "$q" -c '\timing off' -c "$CPUQ" -c "$MEMQ" |
		awk '/^Time:/ { t[++n] = $2 } /^CPU / { c[++m] = $2 } /^Pss:/ { pss = $2 }
			/^Anonymous:/ { anon = $2 }
			END { printf "%s %s %s %.3f %.3f %s %s\n", t[1], t[2], t[3], (c[2] - c[1]) / 1e6,
				(c[3] - c[2]) / 1e6, anon, pss }'
}

# a backend that loaded the library and nothing else
base=$($PSQL -c "LOAD 'pgvision'" -c "$MEMQ" |
	awk '/^Pss:/ { pss = $2 } /^Anonymous:/ { anon = $2 } END { print anon, pss }')

echo "== $REPEAT rounds" >&2
for r in $(seq "$REPEAT"); do
	for b in $BACKBONES; do
		h=$(hash_of "$b")
		for e in $ENGINES; do
			p=${b}_$e
			one "$p" off >>"$OUT/$p.private"
			rm -f "$PGDATA_DIR"/pgsql_tmp_pgvision/"$h"-*
			one "$p" on >>"$OUT/$p.creator"
			one "$p" on >>"$OUT/$p.mapped"
		done
	done
	printf '.' >&2
done
echo >&2

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "first prediction in a new connection (library loaded first), medians of $REPEAT:"
echo "wall and CPU ms of the first and second cv_predict, the library's LOAD (wall ms), and memory"
echo "(MB) beyond a backend that only loaded pgvision, after the second prediction"
printf '%-24s %-8s %8s %8s %8s %8s %8s %10s %8s\n' project case first cpu1 second cpu2 load anonymous pss
for b in $BACKBONES; do
	for e in $ENGINES; do
		p=${b}_$e
		for c in private creator mapped; do
			f="$OUT/$p.$c"
			col() { cut -d' ' -f"$1" "$f" | median; }
			printf '%-24s %-8s %8s %8s %8s %8s %8s %10s %8s\n' "$p" "$c" \
				"$(col 2)" "$(col 4)" "$(col 3)" "$(col 5)" "$(col 1)" \
				"$(col 6 | awk -v b="${base% *}" '{ printf "%.1f", ($1 - b) / 1024 }')" \
				"$(col 7 | awk -v b="${base#* }" '{ printf "%.1f", ($1 - b) / 1024 }')"
		done
	done
done
echo
echo "prepared files: $(ls "$PGDATA_DIR"/pgsql_tmp_pgvision | wc -l), $(du -sh "$PGDATA_DIR"/pgsql_tmp_pgvision | cut -f1)"
echo "raw figures: $OUT"
