#!/usr/bin/env bash
# Active learning with cv_suggest (docs/predictions.md, "Suggestions"):
# label in suggestion order or in random order, retrain, compare held-out
# accuracy for the same number of labels, over several seeds.
#     tools/bench_suggest.sh [domain [set]]     (default: compact clothing-small)
#     BENCH_SEEDS=3 BENCH_POOL=400 BENCH_TEST=300 BENCH_ROUNDS=5 BENCH_BATCH=20 BENCH_PER_TAG=0 BENCH_FIRST_SEED=1
#     (BENCH_PER_TAG=95: at most 95 photos of each tag, a balanced clothing-small)
# Uses the server psql reaches (PGHOST...) or starts a throwaway cluster.
# A benchmark, not a test: it prints figures and asserts nothing.
set -euo pipefail
PGV_PORT=${PGV_PORT:-54342}
. "$(dirname "$0")/lib/common.sh"
SHARED=$(pgv_shared_dir)
domain=${1:-compact}
set=${2:-clothing-small}
# BENCH_DB: the database to run in (its bench_suggest_* projects are replaced)
db=${BENCH_DB:-postgres}

if psql -X -Atqc 'SELECT 1' >/dev/null 2>&1 && [ "$(id -u)" != 0 ]; then
	run_psql() { psql -X "$@"; }
else
	dir=/tmp/pgvision-bench-suggest
	pgv_stop_cluster "$dir"; rm -rf "$dir"
	pgv_start_cluster "$dir"
	[ -n "${PGV_KEEP:-}" ] || trap 'pgv_stop_cluster "$dir"' EXIT
	run_psql() { pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" PGOPTIONS="${PGOPTIONS:-}" psql -X -U "$PGUSER" "$@"; }
fi
cp "$PGV_ROOT/tools/bench_suggest.sql" /tmp/pgvision-bench-suggest.sql
chmod a+r /tmp/pgvision-bench-suggest.sql
run_psql -d "$db" -qc 'CREATE EXTENSION IF NOT EXISTS pgvision' >/dev/null
if [ "$domain" = mobilenet_v2 ]; then
	run_psql -d "$db" -qAt -c "SELECT count(*) FROM cv_domains WHERE name = 'mobilenet_v2'" | grep -q 1 ||
		run_psql -d "$db" -qAt -c "SELECT cv_import_backbone('mobilenet_v2',
			pg_read_binary_file('$SHARED/models/mobilenet_v2_1.0_224_quant.tflite'))" >/dev/null
fi
export PGOPTIONS="-c bench.seeds=${BENCH_SEEDS:-3} -c bench.pool=${BENCH_POOL:-400} -c bench.test=${BENCH_TEST:-300} -c bench.rounds=${BENCH_ROUNDS:-5} -c bench.batch=${BENCH_BATCH:-20} -c bench.per_tag=${BENCH_PER_TAG:-0} -c bench.first_seed=${BENCH_FIRST_SEED:-1}"
echo "active learning, domain $domain, set $set: $PGOPTIONS"
run_psql -d "$db" -v dir="$SHARED/datasets/$set" -v domain="$domain" -f /tmp/pgvision-bench-suggest.sql
