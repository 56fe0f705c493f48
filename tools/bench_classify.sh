#!/usr/bin/env bash
# Classification quality and speed through SQL, on every classification set
# of ../shared/datasets (see tools/bench_classify.sql for the 70/30 rule):
# accuracy, per-tag precision/recall on the held-out 30%, wall time from
# cv_train to completed (background worker), ms per cv_predict.
#     tools/bench_classify.sh [domain ...]        (default: compact)
# Uses the server psql reaches (PGHOST...) or starts a throwaway cluster.
# A benchmark, not a test: it prints figures and asserts nothing.
set -euo pipefail
PGV_PORT=${PGV_PORT:-54339}
. "$(dirname "$0")/lib/common.sh"
SHARED=$(pgv_shared_dir)
domains=("${@:-compact}")
sets=(azure-trees-cls mslearn-fruit-cls fruit-multilabel clothing-small)

if psql -X -Atqc 'SELECT 1' >/dev/null 2>&1 && [ "$(id -u)" != 0 ]; then
	run_psql() { psql -X "$@"; }
else
	dir=/tmp/pgvision-bench
	pgv_stop_cluster "$dir"; rm -rf "$dir"
	pgv_start_cluster "$dir"
	[ -n "${PGV_KEEP:-}" ] || trap 'pgv_stop_cluster "$dir"' EXIT
	run_psql() { pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" psql -X -U "$PGUSER" "$@"; }
fi
cp "$PGV_ROOT/tools/bench_classify.sql" /tmp/pgvision-bench-classify.sql
chmod a+r /tmp/pgvision-bench-classify.sql
run_psql -d postgres -qc 'CREATE EXTENSION IF NOT EXISTS pgvision' >/dev/null
# Backbone domains come from the shared models, by these names.
declare -A model_file=(
	[mobilenet_v2]=mobilenet_v2_1.0_224_quant.tflite
	[tf2_mobilenet_v2]=tf2_mobilenet_v2_1.0_224_ptq.tflite
	[mobilenet_v1_025]=mobilenet_v1_0.25_128_quant.tflite
)
for domain in "${domains[@]}"; do
	[ "$domain" = compact ] && continue
	f=${model_file[$domain]:-}
	[ -n "$f" ] || { echo "unknown domain $domain (known: compact ${!model_file[*]})" >&2; exit 2; }
	run_psql -d postgres -qAt -c "SELECT count(*) FROM cv_domains WHERE name = '$domain'" | grep -q 1 ||
		run_psql -d postgres -qAt -c "SELECT cv_import_backbone('$domain', pg_read_binary_file('$SHARED/models/$f'),
			labels => string_to_array(pg_read_file('$SHARED/models/imagenet_labels.txt'), E'\\n'))" >/dev/null
done
for domain in "${domains[@]}"; do
	for set in "${sets[@]}"; do
		run_psql -d postgres -v dir="$SHARED/datasets/$set" -v set="$set" -v domain="$domain" \
			-f /tmp/pgvision-bench-classify.sql
	done
done
