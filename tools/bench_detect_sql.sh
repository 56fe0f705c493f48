#!/usr/bin/env bash
# bench_detect_sql.sh: issue 8's speed target as a user meets it: cv_detect
# called from SQL, row after row, over a table of photos (detoasting,
# decoding, both backbone passes, the head and the rows included), against
# onnxruntime's backbone cut at the same two maps and input size
# (tools/peer_ort_maps.js, one thread), interleaved in one run.
#
#     PGHOST=/tmp PGPORT=54391 PGUSER=postgres tools/bench_detect_sql.sh [--rounds N] [--out DIR]
#
#   --rounds  rounds of (cv_detect in SQL, onnxruntime) after the first
#             onnxruntime run (default 5)
#   --out     where tools/bench_detect_ratio.sh left the cut model, the view and
#             raccoon-od's test list (default ${TMPDIR:-/tmp}/pgvision_bench_detect)
#
# Against a running cluster where pgvision is installed, as a superuser on
# the same host (it reads the photos with pg_read_binary_file and the
# backend's CPU time from /proc/self/schedstat).  It creates a database
# pgvision_detect_sql (dropped first; SKIP_SETUP=1 reuses it), imports
# mobilenet_v2, trains a detection project through cv_train on raccoon-od's
# training photos (those not in the test list bench_detect_ratio.sh wrote:
# the same 70%), and puts the test photos in a table.  Each SQL pass is one
# statement over that table in one backend that already detected once (the
# backbone and model cached, as in any session past its first row); per
# round the median of 3 passes, per photo, wall and the backend's CPU time.
# The ratio is ours over the mean of the onnxruntime medians (100 runs)
# before and after it.  A benchmark, not a test: it prints figures and
# asserts nothing.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/interleave.sh"
SHARED=$(pgv_shared_dir)

rounds=5 out=${TMPDIR:-/tmp}/pgvision_bench_detect set=raccoon-od
while [ $# -gt 0 ]; do
	case $1 in
		--rounds) rounds=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
model=mobilenet_v2_1.0_224_quant
cut=$out/$model.cut.320.onnx
view=$out/maps.$model.320.f32.ppm
tests=$out/ratio.$set.test
for f in "$cut" "$view" "$tests"; do
	[ -f "$f" ] || { echo "no $f: run tools/bench_detect.sh --sizes 320 and tools/bench_detect_ratio.sh first" >&2; exit 2; }
done
export ORT_NODE_MODULES=${ORT_NODE_MODULES:-/tmp/ort/node_modules}
DB=pgvision_detect_sql
PSQL=(psql -qAtX -d "$DB" -v ON_ERROR_STOP=1)

if [ "${SKIP_SETUP:-0}" != 1 ]; then
	pgv_log "setting up $DB: mobilenet_v2, a detection project on $set's training photos, cv_train"
	psql -qAtX -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
	# the test list as SQL rows (paths contain no quotes)
	test_rows=$(sed "s/.*/('&')/" "$tests" | paste -sd,)
	"${PSQL[@]}" >/dev/null <<EOF
CREATE EXTENSION pgvision;
SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$SHARED/models/$model.tflite'));
CREATE TABLE test_files(path text PRIMARY KEY);
INSERT INTO test_files VALUES $test_rows;
CREATE TABLE manifest AS
SELECT '$SHARED/datasets/$set/' || (line::jsonb ->> 'file') AS path, line::jsonb -> 'regions' AS regions
  FROM regexp_split_to_table(pg_read_file('$SHARED/datasets/$set/manifest.jsonl'), E'\\n') AS line
 WHERE line <> '';
SELECT cv_create_project('bench', task => 'detection', domain => 'mobilenet_v2');
SELECT count(cv_add_image('bench', pg_read_binary_file(m.path), regions => m.regions))
  FROM manifest m WHERE m.path NOT IN (SELECT path FROM test_files);
CREATE TABLE photos AS
SELECT t.path, pg_read_binary_file(t.path) AS photo FROM test_files t ORDER BY t.path;
EOF
	t0=$(date +%s)
	it=$("${PSQL[@]}" -c "SELECT cv_train('bench', wait => true)")
	echo "trained iteration $it in $(( $(date +%s) - t0 )) s (cv_train, wait => true; load $(cut -d' ' -f1-3 /proc/loadavg))"
	"${PSQL[@]}" -c "CREATE TABLE bench_model AS SELECT model FROM cv_iterations WHERE id = $it" >/dev/null
	"${PSQL[@]}" -c "SELECT tag, round(average_precision::numeric, 3) AS ap FROM cv_performance($it)" | sed 's/^/  held-out AP: /'
fi
n_photos=$("${PSQL[@]}" -c "SELECT count(*) FROM photos")

# One backend: a warm-up pass, then 3 timed passes: "wall_ms cpu_ms" each,
# the whole statement over the table, read inside the backend.
PASS="DO \$\$
DECLARE t0 timestamptz; c0 bigint; n bigint; m cv_model;
BEGIN
  SELECT model INTO m FROM bench_model;
  c0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
  t0 := clock_timestamp();
  SELECT count(*) INTO n FROM photos p, cv_detect(m, p.photo) d;
  RAISE NOTICE 'pass % %', extract(epoch FROM clock_timestamp() - t0) * 1000,
    (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e6;
END \$\$;"
ours() {
	local w=() c=()
	while read -r wall cpu; do
		w+=("$(awk -v a="$wall" -v n="$n_photos" 'BEGIN { printf "%.3f", a / n }')")
		c+=("$(awk -v a="$cpu" -v n="$n_photos" 'BEGIN { printf "%.3f", a / n }')")
	done < <("${PSQL[@]}" -c "SET pgvision.threads = 1" -c "$PASS" -c "$PASS" -c "$PASS" -c "$PASS" 2>&1 |
		awk '/pass/ { n++; if (n > 1) print $(NF - 1), $NF }')
	echo "$(pgv_median "${w[@]}") $(pgv_median "${c[@]}")"
}
ort() { pgv_ort_maps "$cut" "$view"; }

pgv_log "interleaved: onnxruntime, then $rounds x (cv_detect in SQL on $n_photos photos, onnxruntime); load $(cut -d' ' -f1-3 /proc/loadavg)"
pgv_interleave "$rounds" "cv_detect in SQL"
