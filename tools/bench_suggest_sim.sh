#!/bin/sh
# Build tools/bench_suggest_sim against the core and run it on a shared
# classification set: active learning simulated with cv_train and
# cv_suggest's orders on features extracted once (docs/predictions.md,
# "Does the order help?").  Features are cached in
# /tmp/pgvision-bench-cache (--cache DIR).
#   tools/bench_suggest_sim.sh [options] [set]     (default set: clothing-small)
#   e.g. tools/bench_suggest_sim.sh --seeds 20 --per-tag 95 --jobs 2
# PGVISION_SHARED points at the shared folder (default ../shared); the
# backbone is mobilenet_v2 unless --backbone FILE is given.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
OUT=${BENCH_BUILD:-${TMPDIR:-/tmp}/pgvision-bench}
mkdir -p "$OUT"
CC=${CC:-cc}
$CC -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror \
	-I"$ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	-o "$OUT/bench_suggest_sim" "$ROOT/tools/bench_suggest_sim.c" \
	"$ROOT"/src/core/common/*.c "$ROOT"/src/core/image/*.c \
	"$ROOT"/src/core/learn/*.c "$ROOT"/src/core/model/*.c "$ROOT"/src/core/detect/*.c \
	"$ROOT"/src/core/export/*.c \
	"${BENCH_NN:-$ROOT/src/core/nn}"/*.c \
	-ljpeg -lpng -lopenblas -lcrypto -lm -lpthread
set_name=clothing-small
args=""
backbone="$SHARED/models/mobilenet_v2_1.0_224_quant.tflite"
while [ $# -gt 0 ]; do
	case "$1" in
	--backbone) backbone=$2; shift 2 ;;
	--*) args="$args $1 $2"; shift 2 ;;
	*) set_name=$1; shift ;;
	esac
done
# one BLAS thread per job: the jobs are the parallelism
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec "$OUT/bench_suggest_sim" --backbone "$backbone" $args "$SHARED/datasets/$set_name"
