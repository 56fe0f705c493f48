#!/usr/bin/env bash
# doc_pictures.sh: the pictures of docs/pictures.md, made by the product
# itself: a detector trained with cv_train on synthetic photos
# (tools/doc_synth_images.c: the unit tests' red rectangles and blue discs
# on noise), its cv_detect answers on photos it never saw drawn by cv_draw.
# The photos are drawn from seeds, so the pictures are ours to commit;
# nothing of ../shared is in them (the backbone network comes from there,
# as everywhere).  Also prints the detector's held-out mean AP and the
# detections drawn.
#     tools/doc_pictures.sh [OUT_DIR]        (default docs/pictures)
set -euo pipefail
PGV_PORT=${PGV_PORT:-54341}
. "$(dirname "$0")/lib/common.sh"
SHARED=$(pgv_shared_dir)
dest=${1:-$PGV_ROOT/docs/pictures}
work=/tmp/pgvision-doc-pictures
rm -rf "$work"; mkdir -p "$work/train" "$work/test"; chmod -R 777 "$work"
dir=/tmp/pgvision-doc-pictures-cluster
pgv_stop_cluster "$dir" 2>/dev/null || true; rm -rf "$dir"
pgv_start_cluster "$dir"
[ -n "${PGV_KEEP:-}" ] || trap 'pgv_stop_cluster "$dir"' EXIT
q() { pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" psql -X -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

pgv_log "drawing synthetic photos"
cc -O2 -w -std=gnu11 -I"$PGV_ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	-o "$work/doc_synth_images" "$PGV_ROOT/tools/doc_synth_images.c" "$PGV_ROOT"/src/core/*/*.c \
	-lopenblas -ljpeg -lpng -lm -lpthread
"$work/doc_synth_images" "$work/train" 80 1
"$work/doc_synth_images" "$work/test" 40 7001
chmod -R a+r "$work"

pgv_log "training a detector on mobilenet_v2 with 80 of them"
q -c "CREATE EXTENSION pgvision" \
  -c "SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$SHARED/models/mobilenet_v2_1.0_224_quant.tflite'))" \
  -c "SELECT cv_create_project('shapes', task => 'detection', domain => 'mobilenet_v2')" >/dev/null
q -c "SELECT count(cv_add_image('shapes', pg_read_binary_file('$work/train/' || (l->>'file')), regions => l->'regions'))
        FROM regexp_split_to_table(pg_read_file('$work/train/manifest.jsonl'), E'\\n') line,
             LATERAL (SELECT line::jsonb) j(l) WHERE line <> ''" >/dev/null
it=$(q -c "SELECT cv_train('shapes', wait => true)")
q -c "SELECT cv_publish($it, 'docs')" >/dev/null
echo "iteration $it; held-out per tag (precision, recall, AP) and mean AP:"
q -F ' ' -c "SELECT coalesce(tag, 'all'), round(precision::numeric, 3), round(recall::numeric, 3), round(average_precision::numeric, 3)
               FROM cv_performance($it) ORDER BY tag NULLS LAST"

# Two unseen photos with both kinds of object, the first such in seed order.
mapfile -t picks < <(q -c "SELECT l->>'file' FROM regexp_split_to_table(pg_read_file('$work/test/manifest.jsonl'), E'\\n') line,
                             LATERAL (SELECT line::jsonb) j(l)
                       WHERE line <> '' AND l->'regions' @> '[{\"tag\": \"rectangle\"}]' AND l->'regions' @> '[{\"tag\": \"disc\"}]'
                       ORDER BY (l->>'file') COLLATE \"C\" LIMIT 2")
[ "${#picks[@]}" = 2 ] || { echo "doc_pictures: fewer than two test photos with both kinds" >&2; exit 1; }
mkdir -p "$dest"
n=0
for f in "${picks[@]}"; do
	n=$((n + 1))
	echo "detections-$n.png ($f), cv_detect at threshold 0.5:"
	q -F ' ' -c "SELECT tag, round(probability::numeric, 3), round(\"left\"::numeric, 3), round(top::numeric, 3), round(width::numeric, 3), round(height::numeric, 3)
	               FROM cv_detect('shapes', pg_read_binary_file('$work/test/$f'), threshold => 0.5)"
	q -c "SELECT encode(cv_draw(p, (SELECT jsonb_agg(d) FROM cv_detect('shapes', p, threshold => 0.5) d)), 'base64')
	        FROM pg_read_binary_file('$work/test/$f') p" | base64 -d > "$dest/detections-$n.png"
done
echo "wrote $dest/detections-1.png and detections-2.png"
