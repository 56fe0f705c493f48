#!/usr/bin/env bash
# Stored predictions (docs/predictions.md): ms per cv_predict call by
# project name, plain, with store => false and with store => true (a new
# row, and the same bytes again), interleaved over several rounds on the
# photos of a classification set; the ratio of each to the plain form.
#     tools/bench_predictions.sh [domain [set [rounds]]]
#         (default: compact mslearn-fruit-cls 5; domain mobilenet_v2 is
#         imported from the shared models when missing)
# Uses the server psql reaches (PGHOST...) or starts a throwaway cluster.
# A benchmark, not a test: it prints figures and asserts nothing.
set -euo pipefail
PGV_PORT=${PGV_PORT:-54341}
. "$(dirname "$0")/lib/common.sh"
SHARED=$(pgv_shared_dir)
domain=${1:-compact}
set=${2:-mslearn-fruit-cls}
rounds=${3:-5}

if psql -X -Atqc 'SELECT 1' >/dev/null 2>&1 && [ "$(id -u)" != 0 ]; then
	run_psql() { psql -X "$@"; }
else
	dir=/tmp/pgvision-bench-predictions
	pgv_stop_cluster "$dir"; rm -rf "$dir"
	pgv_start_cluster "$dir"
	[ -n "${PGV_KEEP:-}" ] || trap 'pgv_stop_cluster "$dir"' EXIT
	run_psql() { pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" psql -X -U "$PGUSER" "$@"; }
fi
cp "$PGV_ROOT/tools/bench_predictions.sql" /tmp/pgvision-bench-predictions.sql
chmod a+r /tmp/pgvision-bench-predictions.sql
run_psql -d postgres -qc 'CREATE EXTENSION IF NOT EXISTS pgvision' >/dev/null
if [ "$domain" = mobilenet_v2 ]; then
	run_psql -d postgres -qAt -c "SELECT count(*) FROM cv_domains WHERE name = 'mobilenet_v2'" | grep -q 1 ||
		run_psql -d postgres -qAt -c "SELECT cv_import_backbone('mobilenet_v2',
			pg_read_binary_file('$SHARED/models/mobilenet_v2_1.0_224_quant.tflite'))" >/dev/null
fi
echo "cv_predict by project name, domain $domain, set $set, $rounds rounds"
PGOPTIONS="-c bench.rounds=$rounds" run_psql -d postgres -v dir="$SHARED/datasets/$set" -v domain="$domain" \
	-f /tmp/pgvision-bench-predictions.sql
