#!/usr/bin/env bash
# bench_predict_path.sh: where cv_predict's time goes between the bytea and
# the result rows (issue 12 part 3).  In one run, on the same photos and the
# same trained MobileNet V2 classifier, single thread:
#   core     tools/bench_predict_path.c: decode at the DCT scale, the model's
#            prediction views through the backbone, the head (no SQL)
#   sql      SELECT count(*) FROM photos, m, cv_predict(m.model, photo):
#            one backend, no parallel workers, the model warm in its cache
#   project  the same through cv_predict('project', photo) (the published model)
#   ort      onnxruntime's inference alone on the same network: the peer's
#            float conversion of the backbone file (../shared/peers), one
#            thread, on 5 of the photos (run_ort.js decodes and resizes them
#            untimed); not the iteration's own export, which for int8-engine
#            features is an integer graph onnxruntime runs slowly
#            (docs/export.md)
# Each is measured ROUNDS times (default 5), interleaved (core, sql, project,
# ort, core, ...), so a change in the machine's speed shows as spread
# rather than as a ratio; the summary takes each one's fastest round, the
# least disturbed figure on a shared machine.  A benchmark, not a test: it
# prints figures and asserts nothing.
#     tools/bench_predict_path.sh [PHOTOS]      (default 100 clothing photos)
set -euo pipefail
PGV_PORT=${PGV_PORT:-54339}
. "$(dirname "$0")/lib/common.sh"
SHARED=$(pgv_shared_dir)
N=${1:-100}
ROUNDS=${ROUNDS:-5}
PGV_NPM_DIR=${PGV_NPM_DIR:-/tmp/pgvision-npm}
pgv_install_npm "$PGV_NPM_DIR"
out=/tmp/pgvision-bench-predict-path
rm -rf "$out"; mkdir -p "$out"; chmod 777 "$out"
dir=/tmp/pgvision-bench-predict-path-cluster
pgv_stop_cluster "$dir" 2>/dev/null || true; rm -rf "$dir"
pgv_start_cluster "$dir"
[ -n "${PGV_KEEP:-}" ] || trap 'pgv_stop_cluster "$dir"' EXIT
q() { pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" psql -X -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

pgv_log "building bench_predict_path into $out"
bin=$out/bench_predict_path
# the flags the extension is built with (PGXS takes them from pg_config)
cc $("$(pgv_pg_config)" --cflags) -w -std=gnu11 -I"$PGV_ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	-o "$bin" "$PGV_ROOT/tools/bench_predict_path.c" "$PGV_ROOT"/src/core/*/*.c \
	-lcrypto -lopenblas -ljpeg -lpng -lm -lpthread

pgv_log "training a MobileNet V2 classifier on 15 clothing photos per tag"
backbone=$SHARED/models/mobilenet_v2_1.0_224_quant.tflite
q -c "CREATE EXTENSION IF NOT EXISTS pgvision" \
  -c "SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$backbone'))" >/dev/null
q -c "CREATE TABLE clothing AS SELECT file, tag, row_number() OVER (PARTITION BY tag ORDER BY file) AS n
        FROM (SELECT split_part(l, ',', 1) AS file, split_part(split_part(l, ',', 2), ';', 1) AS tag
                FROM regexp_split_to_table(pg_read_file('$SHARED/datasets/clothing-small/manifest.csv'), E'\\r?\\n') l
               WHERE l LIKE 'images/%') m" \
  -c "SELECT cv_create_project('clothing', domain => 'mobilenet_v2')" \
  -c "SELECT count(cv_add_image('clothing', pg_read_binary_file('$SHARED/datasets/clothing-small/' || file), ARRAY[tag])) FROM clothing WHERE n <= 15" >/dev/null
it=$(q -c "SELECT cv_train('clothing', wait => true)")
q -c "SELECT cv_publish($it, 'bench')" >/dev/null
q -c "SELECT encode(model::bytea, 'base64') FROM cv_iterations WHERE id = $it" | base64 -d > "$out/model.cvm"
read -r w h < <(q -F ' ' -c "SELECT input_width, input_height FROM cv_model_info((SELECT model FROM cv_iterations WHERE id = $it))")

# The photos: the first N the training did not see, in file order.
q -c "CREATE TABLE photos AS SELECT row_number() OVER (ORDER BY file) AS k, file,
             pg_read_binary_file('$SHARED/datasets/clothing-small/' || file) AS photo
        FROM (SELECT file FROM clothing WHERE n > 15 ORDER BY file LIMIT $N) f"
n=$(q -c "SELECT count(*) FROM photos")
mapfile -t files < <(q -c "SELECT '$SHARED/datasets/clothing-small/' || file FROM photos ORDER BY k")
bytes=$(q -c "SELECT round(avg(length(photo)))::int FROM photos")
peer=/tmp/peers/mobilenet_v2_1.0_224_quant.onnx
if [ ! -f "$peer" ]; then
	mkdir -p /tmp/peers
	(cd "$SHARED/peers" && /usr/bin/python3 tflite2onnx.py "$backbone" "$peer" >/dev/null)
fi
# ort_ms: the mean over 5 photos of onnxruntime's median of 20 runs, and the least run
ort_ms() {
	(cd "$SHARED/peers" && ORT_NODE_MODULES="$PGV_NPM_DIR/node_modules" node run_ort.js "$peer" "${files[@]:0:5}" \
		--threads 1 --repeat 20) |
		awk '/median/ { for (i = 1; i <= NF; i++) { if ($i == "median") { s += $(i + 1); k++ } if ($i == "(min") { v = $(i + 1) + 0; if (m == "" || v < m) m = v } } }
		     END { printf "%.3f %.3f\n", s / k, m }'
}

# sql_ms FORM: ms per photo of one statement over every photo (5 passes after
# a warm-up pass; the fastest), no parallel workers, one backend.
sql_ms() {
	q -c "SET max_parallel_workers_per_gather = 0" -c "
		CREATE TEMP TABLE m AS SELECT model FROM cv_iterations WHERE id = $it;
		SELECT count(*) FROM photos p, m, $1;
		CREATE TEMP TABLE t (ms float8);
		DO \$\$ DECLARE t0 timestamptz; BEGIN
			FOR r IN 1 .. 5 LOOP
				t0 := clock_timestamp();
				PERFORM count(*) FROM photos p, m, $1;
				INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000 / $n);
			END LOOP; END \$\$;
		SELECT round(min(ms)::numeric, 3) FROM t" | tail -1
}

declare -a core_t dec_t feat_t head_t sql_t proj_t ort_t ortmin_t
for round in $(seq 1 "$ROUNDS"); do
	"$bin" --backbone "$backbone" --model "$out/model.cvm" --passes 5 "${files[@]}" > "$out/core-$round.txt"
	core_t+=("$(awk '/^total /{print $2}' "$out/core-$round.txt")")
	dec_t+=("$(awk '/^decode /{print $2}' "$out/core-$round.txt")")
	feat_t+=("$(awk '/^features /{print $2}' "$out/core-$round.txt")")
	head_t+=("$(awk '/^head /{print $2}' "$out/core-$round.txt")")
	sql_t+=("$(sql_ms 'cv_predict(m.model, p.photo)')")
	proj_t+=("$(sql_ms "cv_predict('clothing', p.photo)")")
	read -r om on < <(ort_ms)
	ort_t+=("$om"); ortmin_t+=("$on")
	echo "round $round: core ${core_t[-1]}  sql ${sql_t[-1]}  project ${proj_t[-1]}  ort ${ort_t[-1]} ms"
done

pgv_log "cv_predict path, MobileNet V2 ${w}x${h}, $n clothing photos (on average $bytes bytes), ms per photo, single thread"
views=$(awk '/^views /{print $2}' "$out/core-1.txt")
echo "prediction views per photo: $views; features engine: $(awk '/^engine /{print $2}' "$out/core-1.txt")"
least() { printf '%s\n' "$@" | sort -g | head -1; }
printf '%-34s %-10s %s\n' "" fastest "every round"
row() { local label=$1; shift; printf '%-34s %-10s %s\n' "$label" "$(least "$@")" "$*"; }
row "core: decode" "${dec_t[@]}"
row "core: views through the backbone" "${feat_t[@]}"
row "core: head" "${head_t[@]}"
row "core: total" "${core_t[@]}"
row "cv_predict(model, photo) in SQL" "${sql_t[@]}"
row "cv_predict('project', photo)" "${proj_t[@]}"
row "onnxruntime inference (median)" "${ort_t[@]}"
row "onnxruntime inference (least run)" "${ortmin_t[@]}"
awk -v c="$(least "${core_t[@]}")" -v s="$(least "${sql_t[@]}")" -v p="$(least "${proj_t[@]}")" \
	-v o="$(least "${ort_t[@]}")" \
	'BEGIN { printf "fastest rounds: sql/core %.3f  project/core %.3f  sql/onnxruntime %.3f  core/onnxruntime %.3f\n", s / c, p / c, s / o, c / o }'
# Where a predicting backend's time goes, by sampling it (perf, when the
# machine has it): shares hold up on a busy machine better than times do.
if command -v perf >/dev/null; then
	scan="SELECT count(*) FROM photos p, m, cv_predict(m.model, p.photo)"
	q -c "SET max_parallel_workers_per_gather = 0" -c "CREATE TEMP TABLE m AS SELECT model FROM cv_iterations WHERE id = $it" \
	  -c "SELECT pg_backend_pid()" -c "SELECT pg_sleep(0.5)" -c "$scan" -c "$scan" -c "$scan" -c "$scan" -c "$scan" \
	  > "$out/perf-q.txt" 2>&1 &
	qpid=$!
	bpid=
	for _ in $(seq 1 50); do bpid=$(grep -E '^[0-9]+$' "$out/perf-q.txt" | head -1 || true); [ -n "$bpid" ] && break; sleep 0.1; done
	# without a command, perf samples the backend until it exits (the scans' end)
	if [ -n "$bpid" ]; then
		perf record -q -p "$bpid" -o "$out/perf.data" >/dev/null 2>&1 || true
	fi
	if [ -s "$out/perf.data" ]; then
		pgv_log "one backend running cv_predict(m.model, p.photo) over the photos 5 times: share of perf samples"
		echo "by library (postgres and libc: the SQL path around the core; libjpeg: decoding):"
		perf report -i "$out/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -6 || true
		echo "by function (the largest):"
		perf report -i "$out/perf.data" --no-children --sort symbol -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -12 || true
	fi
	wait "$qpid" || true
fi
echo "(targets, issue 12 part 3: sql/core <= 1.1 and sql below onnxruntime's inference in the same run;"
echo " onnxruntime is not given the decode, the core and SQL are)"
