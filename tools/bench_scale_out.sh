#!/bin/bash
# bench_scale_out.sh: prediction over a Citus distributed table against the
# same photos on the coordinator (docs/scale-out.md).  Not a test, and it
# builds nothing: run it by hand against a running Citus coordinator with
# its workers added and pgvision created, as a superuser (it changes
# shouldhaveshards to place a table on one worker, and reads the photos
# from the server's disk).
#
#   PGHOST=/tmp PGPORT=54390 PGUSER=postgres tools/bench_scale_out.sh [PHOTOS] [REPEAT]
#
# It makes (once; SKIP_SETUP=1 keeps them) a project bench_clothing on
# mobilenet_v2 trained on 16 clothing photos of each of five tags and
# published, and PHOTOS (default 600) other photos of those tags in three
# tables: bench_local (on the coordinator), bench_dist (distributed over
# every worker) and bench_one (distributed, every shard on the first
# worker).  Then, REPEAT times (default 3), each of:
#   coordinator  SELECT ... FROM bench_local p, cv_predict('bench_clothing', p.img),
#                and with the model as a scalar subquery
#   1 worker     the pushed-down form over bench_one
#   2 workers    the pushed-down form over bench_dist (or N workers)
# warm (connections cached, already used once) and cold
# (citus.max_cached_conns_per_worker = 0: every query opens new worker
# backends, which load the backbone), with the executor's pool size
# PGV_POOL (default 1) connections per worker.  It prints the median
# photos per second of each, and the cold start: the median time of one
# photo by id (a router query to one worker) in a new backend less in a
# cached one, with the shared prepared weights on the workers and without.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" && pwd)
PHOTOS=${1:-600}
REPEAT=${2:-3}
POOL=${PGV_POOL:-1}
SET="$SHARED/datasets/clothing-small"
PSQL="psql -qAtX -v ON_ERROR_STOP=1"

workers=$($PSQL -c "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0")
[ "$workers" -ge 1 ] || { echo "bench_scale_out: no Citus workers (citus_add_node first)" >&2; exit 1; }
first=$($PSQL -c "SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid LIMIT 1")

if [ "${SKIP_SETUP:-0}" != 1 ]; then
	$PSQL <<SQL
DROP TABLE IF EXISTS bench_local, bench_dist, bench_one, bench_manifest;
SELECT cv_delete_project(name) FROM cv_projects WHERE name = 'bench_clothing';
SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file('$SHARED/models/mobilenet_v2_1.0_224_quant.tflite'))
 WHERE NOT EXISTS (SELECT 1 FROM cv_backbones WHERE domain = 'mobilenet_v2');
CREATE TABLE bench_manifest AS
SELECT file, tag, row_number() OVER (PARTITION BY tag ORDER BY file) AS rn
  FROM (SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
          FROM regexp_split_to_table(pg_read_file('$SET/manifest.csv'), E'\r?\n') AS line
         WHERE line LIKE 'images/%') m
 WHERE tag IN ('dress', 'hat', 'pants', 'shoes', 'shorts');
SET pgvision.near_duplicate_similarity = 0;
SELECT cv_create_project('bench_clothing', domain => 'mobilenet_v2');
SELECT count(cv_add_image('bench_clothing', pg_read_binary_file('$SET/' || file), ARRAY[tag]))
  FROM bench_manifest WHERE rn <= 16;
SELECT cv_publish(cv_train('bench_clothing', wait => true), 'bench');
CREATE TABLE bench_local AS
SELECT row_number() OVER (ORDER BY rn, tag) AS id, tag, pg_read_binary_file('$SET/' || file) AS img
  FROM bench_manifest WHERE rn > 16 ORDER BY rn, tag LIMIT $PHOTOS;
ALTER TABLE bench_local ADD PRIMARY KEY (id);
CREATE TABLE bench_dist (LIKE bench_local INCLUDING ALL);
SELECT create_distributed_table('bench_dist', 'id');
INSERT INTO bench_dist SELECT * FROM bench_local;
-- every shard on the first worker: the others take none while it is made
SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', false)
  FROM pg_dist_node WHERE groupid <> 0 AND nodename || ':' || nodeport <> '$first';
CREATE TABLE bench_one (LIKE bench_local INCLUDING ALL);
SELECT create_distributed_table('bench_one', 'id', colocate_with => 'none');
SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', true)
  FROM pg_dist_node WHERE groupid <> 0;
INSERT INTO bench_one SELECT * FROM bench_local;
SQL
fi

n=$($PSQL -c "SELECT count(*) FROM bench_local")
model="(SELECT cv_self_contained(cv_published_model('bench_clothing')))"

# seconds of one query, in a session with the given settings
timed()
{
	local settings=$1 query=$2
	$PSQL <<SQL
$settings
SET citus.max_adaptive_executor_pool_size = $POOL;
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT count(*) FROM ($query) s \\g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - t)::numeric, 3) FROM t0;
SQL
}

median()
{
	sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

rate()
{
	local label=$1 settings=$2 query=$3 warmup=$4 s
	for _ in $(seq "$REPEAT"); do
		if [ "$warmup" = warm ]; then
			# one session: the first run opens and warms the backends
			s=$($PSQL <<SQL | tail -1
SET citus.max_adaptive_executor_pool_size = $POOL;
$settings
SELECT count(*) FROM ($query) s \\g /dev/null
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT count(*) FROM ($query) s \\g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - t)::numeric, 3) FROM t0;
SQL
)
		else
			s=$(timed "$settings" "$query" | tail -1)
		fi
		echo "$s"
	done | median | awk -v l="$label" -v n="$n" '{printf "%-34s %7.1f photos/s  (%d photos in %.2f s)\n", l, n / $1, n, $1}'
}

pushed="SELECT p.id, r.tag, r.probability FROM %s p, cv_predict($model, p.img) r"
cold="SET citus.max_cached_conns_per_worker = 0;"
warmset="SET citus.max_cached_conns_per_worker = $POOL;"
echo "photos: $n, workers: $workers, pool size: $POOL per worker, median of $REPEAT"
rate "coordinator, by project name" "" "SELECT p.id, r.tag FROM bench_local p, cv_predict('bench_clothing', p.img) r" cold
rate "coordinator, model as a value" "" "SELECT p.id, r.tag FROM bench_local p, cv_predict((SELECT cv_published_model('bench_clothing')), p.img) r" cold
# shellcheck disable=SC2059
rate "pushed down, 1 worker, cold" "$cold" "$(printf "$pushed" bench_one)" cold
# shellcheck disable=SC2059
rate "pushed down, 1 worker, warm" "$warmset" "$(printf "$pushed" bench_one)" warm
# shellcheck disable=SC2059
rate "pushed down, $workers workers, cold" "$cold" "$(printf "$pushed" bench_dist)" cold
# shellcheck disable=SC2059
rate "pushed down, $workers workers, warm" "$warmset" "$(printf "$pushed" bench_dist)" warm

# Cold start of one worker backend: one photo by id, new backend against
# cached.  Router execution off: a single-shard query would otherwise go to
# the worker whole, and cv_published_model with it (docs/scale-out.md).
one="SELECT r.tag FROM bench_dist p, cv_predict($model, p.img) r WHERE p.id = 1"
cold="$cold SET citus.enable_router_execution = off;"
warmset="$warmset SET citus.enable_router_execution = off;"
coldstart()
{
	local label=$1 c w
	c=$(for _ in $(seq "$REPEAT"); do timed "$cold" "$one" | tail -1; done | median)
	w=$(for _ in $(seq "$REPEAT"); do
		$PSQL <<SQL | tail -1
$warmset
SELECT count(*) FROM ($one) s \\g /dev/null
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT count(*) FROM ($one) s \\g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - t)::numeric, 3) FROM t0;
SQL
	done | median)
	awk -v l="$label" -v c="$c" -v w="$w" 'BEGIN {printf "%-34s %6.0f ms (one photo: %.0f ms new backend, %.0f ms cached)\n", l, 1000 * (c - w), 1000 * c, 1000 * w}'
}
coldstart "cold start, prepared weights"
$PSQL -c "SELECT run_command_on_workers('ALTER SYSTEM SET pgvision.prepared_weights = off')" -c "SELECT run_command_on_workers('SELECT pg_reload_conf()')" > /dev/null
coldstart "cold start, built in the backend"
$PSQL -c "SELECT run_command_on_workers('ALTER SYSTEM RESET pgvision.prepared_weights')" -c "SELECT run_command_on_workers('SELECT pg_reload_conf()')" > /dev/null
