#!/usr/bin/env bash
# Export size and speed: a MobileNet V2 classifier (clothing-small, 15
# photos per tag) and detector (raccoon-od, 24 photos) trained in a
# throwaway cluster, exported with cv_export, then per image:
#   ours         cv_predict / cv_detect on the photos in SQL, decode included,
#                one backend (no parallel workers), the model warm in cache
#   onnxruntime  session.run on the exported file, one thread, on the
#                cv_input_pixels of the same photos (no decode), same run
# and the file sizes.  A benchmark, not a test: it prints figures and
# asserts nothing.  Needs what tools/test.sh installs (node, the npm
# packages in $PGV_NPM_DIR).
#     tools/bench_export.sh
set -euo pipefail
PGV_PORT=${PGV_PORT:-54338}
. "$(dirname "$0")/lib/common.sh"
SHARED=$(pgv_shared_dir)
PGV_NPM_DIR=${PGV_NPM_DIR:-/tmp/pgvision-npm}
pgv_install_npm "$PGV_NPM_DIR"
out=/tmp/pgvision-bench-export
rm -rf "$out"; mkdir -p "$out"; chmod 777 "$out"
dir=/tmp/pgvision-bench-export-cluster
pgv_stop_cluster "$dir" 2>/dev/null || true; rm -rf "$dir"
pgv_start_cluster "$dir"
[ -n "${PGV_KEEP:-}" ] || trap 'pgv_stop_cluster "$dir"' EXIT
q() { pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" psql -X -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

pgv_log "training a classifier and a detector on mobilenet_v2"
q -c "CREATE EXTENSION IF NOT EXISTS pgvision" \
  -c "SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$SHARED/models/mobilenet_v2_1.0_224_quant.tflite'))" >/dev/null
manifest() {	# manifest TABLE SET: file, first tag, rank within the tag
	q -c "CREATE TABLE $1 AS SELECT file, tag, row_number() OVER (PARTITION BY tag ORDER BY file) AS n
	        FROM (SELECT split_part(l, ',', 1) AS file, split_part(split_part(l, ',', 2), ';', 1) AS tag
	                FROM regexp_split_to_table(pg_read_file('$SHARED/datasets/$2/manifest.csv'), E'\\r?\\n') l
	               WHERE l LIKE 'images/%') m"
}
manifest clothing clothing-small
q -c "SELECT cv_create_project('clothing', domain => 'mobilenet_v2')" \
  -c "SELECT count(cv_add_image('clothing', pg_read_binary_file('$SHARED/datasets/clothing-small/' || file), ARRAY[tag])) FROM clothing WHERE n <= 15" >/dev/null
cls=$(q -c "SELECT cv_train('clothing', wait => true)")
q -c "CREATE TABLE raccoons AS
        SELECT row_number() OVER (ORDER BY l->>'file') AS n, l->>'file' AS file, l->'regions' AS regions
          FROM regexp_split_to_table(pg_read_file('$SHARED/datasets/raccoon-od/manifest.jsonl'), E'\\r?\\n') AS line,
               LATERAL (SELECT line::jsonb) j(l)
         WHERE line <> ''" \
  -c "SELECT cv_create_project('raccoons', task => 'detection', domain => 'mobilenet_v2')" \
  -c "SELECT count(cv_add_image('raccoons', pg_read_binary_file('$SHARED/datasets/raccoon-od/' || file), regions => regions)) FROM raccoons WHERE n <= 24" >/dev/null
det=$(q -c "SELECT cv_train('raccoons', wait => true)")
q -c "SELECT id, task, status FROM cv_iterations ORDER BY id"

# The test photos: 3 unseen clothing photos per tag, 12 unseen raccoon photos.
q -c "CREATE TABLE bench_photos AS
        SELECT 'cls' AS kind, row_number() OVER (ORDER BY file) AS k,
               pg_read_binary_file('$SHARED/datasets/clothing-small/' || file) AS photo
          FROM clothing WHERE n BETWEEN 16 AND 18
        UNION ALL
        SELECT 'det', row_number() OVER (ORDER BY file),
               pg_read_binary_file('$SHARED/datasets/raccoon-od/' || file)
          FROM raccoons WHERE n BETWEEN 30 AND 41"

declare -A ours size ort
for kind in cls det; do
	it=$cls; fn=cv_predict
	[ $kind = det ] && { it=$det; fn=cv_detect; }
	q -c "SELECT encode(cv_export($it), 'base64')" | base64 -d > "$out/$kind.onnx"
	size[$kind]=$(stat -c %s "$out/$kind.onnx")
	read -r w h < <(q -F ' ' -c "SELECT input_width, input_height FROM cv_model_info((SELECT model FROM cv_iterations WHERE id = $it))")
	n=$(q -c "SELECT count(*) FROM bench_photos WHERE kind = '$kind'")
	for k in $(seq 1 "$n"); do
		q -c "SELECT encode(cv_input_pixels($it, photo), 'base64') FROM bench_photos WHERE kind = '$kind' AND k = $k" |
			base64 -d > "$out/$kind-$k.rgb"
	done
	# ours: 5 passes over the photos in one statement each, after a warm-up
	# pass (the model and the backbone load on the first call); no parallel workers
	ours[$kind]=$(q -c "SET max_parallel_workers_per_gather = 0" -c "
		CREATE TEMP TABLE m AS SELECT model FROM cv_iterations WHERE id = $it;
		SELECT count(*) FROM bench_photos b, m, $fn(m.model, b.photo) WHERE b.kind = '$kind';
		CREATE TEMP TABLE t (ms float8);
		DO \$\$ DECLARE t0 timestamptz; BEGIN
			FOR r IN 1 .. 5 LOOP
				t0 := clock_timestamp();
				PERFORM count(*) FROM bench_photos b, m, $fn(m.model, b.photo) WHERE b.kind = '$kind';
				INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000 / $n);
			END LOOP; END \$\$;
		SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' || round(min(ms)::numeric, 2) FROM t" | tail -1)
	ort[$kind]=$(PGVISION_NODE_MODULES="$PGV_NPM_DIR/node_modules" node "$PGV_ROOT/tools/bench_export_ort.js" \
		"$out/$kind.onnx" "$w" "$h" "$out/$kind"-*.rgb --repeat 5 | awk '{print $5, $8}')
	echo "$kind: iteration $it, ${w}x${h}, $n photos"
done

pgv_log "export size and speed (ms per image; median, min)"
printf '%-15s %12s %-26s %-26s %s\n' kind "file bytes" "ours (decode included)" "onnxruntime (network)" "ratio ours/ort (median)"
for kind in cls det; do
	read -r om on <<< "${ours[$kind]}"
	read -r rm rn <<< "${ort[$kind]}"
	printf '%-15s %12s %-26s %-26s %s\n' "$kind" "${size[$kind]}" "$om / $on" "$rm / $rn" \
		"$(awk -v a="$om" -v b="$rm" 'BEGIN {printf "%.2f", a / b}')"
done
echo "(cls: cv_predict at 224 on the classifier; det: cv_detect at 320, photo and mirror, on the detector;"
echo " onnxruntime runs the exported file on cv_input_pixels, single thread, same run)"
