#!/usr/bin/env bash
# Load: 8 pgbench clients predict by project name (cv_predict('load', photo),
# tools/load_predict.sql) on a shared table of 60 photos for a set time,
# while 2 trainings run in background workers the whole time (4 projects
# take turns, 2 queued behind the 2 running, each with its cached features
# dropped so that it does the feature work again: tools/load_setup.sql).  Prints predictions per second, errors, the
# trainings that ran, and the largest backend memory seen.
#     tools/load.sh [seconds]              (default 60; the test command: 20)
# PGV_LOAD_DOMAIN: mobilenet_v2 (default, imported from ../shared/models)
# or compact.  Uses the server psql reaches (PGHOST...; as a superuser, on
# this machine: backend memory is read from /proc) in a database of its
# own, pgvision_load (dropped first, kept after for a look), or starts a
# throwaway cluster.
# Exits non-zero on any error: a prediction that failed or returned the
# wrong rows, a training that failed.  Speed is printed, never asserted.
set -euo pipefail
PGV_PORT=${PGV_PORT:-54349}
. "$(dirname "$0")/lib/common.sh"
seconds=${1:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: tools/load.sh [seconds]" >&2; exit 2; }
domain=${PGV_LOAD_DOMAIN:-mobilenet_v2}
[[ $domain =~ ^(mobilenet_v2|compact)$ ]] || { echo "PGV_LOAD_DOMAIN: mobilenet_v2 or compact" >&2; exit 2; }
clients=8
db=pgvision_load
SHARED=$(pgv_shared_dir)
bindir=$("$(pgv_pg_config)" --bindir)

if ! psql -X -Atq -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	cluster=/tmp/pgvision-load-cluster
	pgv_stop_cluster "$cluster"; rm -rf "$cluster"
	pgv_start_cluster "$cluster"
	trap 'pgv_stop_cluster "$cluster"' EXIT
fi
work=$(mktemp -d /tmp/pgvision-load.XXXXXX)
stop=$work/stop
q() { psql -X -Atq -d "$db" "$@"; }
train_projects="SELECT project FROM load_trainers"

pgv_log "setting up database $db (domain $domain)"
psql -X -q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v shared="$SHARED" -v domain="$domain" -f "$PGV_ROOT/tools/load_setup.sql" >/dev/null
nphotos=$(q -c 'SELECT count(*) FROM load_photos')
ntags=$(q -c "SELECT tag_count FROM cv_iterations WHERE project = 'load' AND published_name IS NOT NULL")

# Keeps 2 trainings running: a check every 0.1 s.  Each line of
# $work/running is how many trained at that check.
keep_training() {
	while [ ! -e "$stop" ]; do
		q -c 'SELECT load_keep_training()' >> "$work/running" 2>> "$work/trainer.err" || echo failed >> "$work/running"
		sleep 0.1
	done
}
# Memory of the predicting backends (pgbench's) and of the training
# workers, every 0.5 s: VmHWM, the peak resident size of the process (a
# high-water mark, so a peak between two samples is not missed; it counts
# the shared buffers the process touched too), and RssAnon, its private
# memory at the sample (palloc'd and malloc'd: caches, models, backbone
# weights, activations).
sample_memory() {
	while [ ! -e "$stop" ]; do
		q -F ' ' -c "SELECT pid, CASE WHEN backend_type = 'pgvision training worker' THEN 'training' ELSE 'predicting' END
		               FROM pg_stat_activity WHERE datname = '$db'
		                AND (application_name = 'pgbench' OR backend_type = 'pgvision training worker')" |
			while read -r pid kind; do
				awk -v kind="$kind" '$1 == "VmHWM:" || $1 == "RssAnon:" {print kind, $1, $2}' "/proc/$pid/status" 2>/dev/null || true
			done >> "$work/memory"
		sleep 0.5
	done
}

touch "$work/running" "$work/memory" "$work/trainer.err"
keep_training & trainer=$!
sample_memory & sampler=$!
# (set -e holds in the trap too: nothing in it may fail.)
trap 'touch "$stop" 2>/dev/null || true; wait || true; [ -z "${cluster:-}" ] || pgv_stop_cluster "$cluster"' EXIT
for _ in $(seq 300); do
	[ "$(tail -1 "$work/running")" = 2 ] && break
	sleep 0.2
done
[ "$(tail -1 "$work/running")" = 2 ] || echo "the 2 trainings did not start within 60 s" >&2

pgv_log "$clients clients predicting for $seconds s while 2 trainings run"
checks_before=$(wc -l < "$work/running")
pgbench_status=0
"$bindir/pgbench" -n -c "$clients" -j 2 -T "$seconds" -f "$PGV_ROOT/tools/load_predict.sql" \
	-D nphotos="$nphotos" -D ntags="$ntags" "$db" > "$work/pgbench.log" 2>&1 || pgbench_status=$?
checks_after=$(wc -l < "$work/running")
touch "$stop"
wait "$trainer" "$sampler" || true

# The trainings still running are the load's own: cancel them and wait.
q -c 'SELECT load_stop_training()' >/dev/null
for _ in $(seq 300); do
	[ "$(q -c "SELECT count(*) FROM cv_iterations WHERE project IN ($train_projects) AND status IN ('queued', 'training')")" = 0 ] && break
	sleep 0.2
done

pgv_log "figures"
predictions=$(awk -F': ' '/^number of transactions actually processed/ {print $2 + 0}' "$work/pgbench.log")
rate=$(awk '/^tps = / {printf "%.1f", $3}' "$work/pgbench.log")
failed_transactions=$(awk -F': ' '/^number of failed transactions/ {print $2 + 0}' "$work/pgbench.log")
# pgbench (15) stops a client at its first error: count those clients.
aborted=$(grep -cE 'client [0-9]+ .*aborted' "$work/pgbench.log" || true)
prediction_errors=$((${failed_transactions:-0} + aborted))
[ "$pgbench_status" = 0 ] || [ "$prediction_errors" != 0 ] || prediction_errors=1
read -r completed train_failed canceled < <(q -F ' ' -c "SELECT count(*) FILTER (WHERE status = 'completed'),
	count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'canceled')
	FROM cv_iterations WHERE project IN ($train_projects)")
trainer_errors=$(grep -c 'ERROR' "$work/trainer.err" || true)
checks=$((checks_after - checks_before))
both=$(sed -n "$((checks_before + 1)),${checks_after}p" "$work/running" | awk '$1 == 2 {b++} END {printf "%.0f", NR ? 100 * b / NR : 0}')
errors=$((prediction_errors + train_failed + trainer_errors))

echo "predictions: ${predictions:-0} in $seconds s by $clients clients, ${rate:-0} per second (pgbench tps, connections excluded); domain $domain, $nphotos photos"
echo "errors: $errors (predictions: $prediction_errors, trainings failed: $train_failed, training starts refused: $trainer_errors)"
echo "trainings: $completed completed, $train_failed failed, $canceled canceled at the end; 2 were running at $both% of the $checks checks during the load"
awk '
	{ kb = $3; if (kb > max[$1 " " $2]) max[$1 " " $2] = kb; seen[$1] = 1 }
	END {
		for (k in seen)
			printf "largest %s backend: VmHWM %.1f MB (peak resident, shared buffers touched included), RssAnon %.1f MB (private, largest sample)\n",
				k, max[k " VmHWM:"] / 1024, max[k " RssAnon:"] / 1024
	}' "$work/memory" | sort
[ -s "$work/memory" ] || echo "backend memory: not measured (no sample read: is the server on this machine?)"
if [ "$errors" != 0 ]; then
	echo "the load FAILED; pgbench said:" >&2
	grep -E 'error|ERROR|aborted' "$work/pgbench.log" | head -20 >&2 || true
	head -20 "$work/trainer.err" >&2
	q -c "SELECT id, project, message FROM cv_iterations WHERE project IN ($train_projects) AND status = 'failed'" >&2 || true
	echo "work files: $work" >&2
	exit 1
fi
rm -rf "$work"
