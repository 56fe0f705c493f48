#!/bin/sh
# Build tools/bench_compact against the core and run it on the shared
# classification sets.  Extra arguments go to the program before the sets
# (e.g. --backbone ../shared/models/mobilenet_v2_1.0_224_quant.tflite,
# --views 2, --blocks colour,hog).  Features are cached in
# /tmp/pgvision-bench-cache (--cache DIR), so the second run of a domain
# takes seconds.
#   tools/bench_compact.sh [options]
# PGVISION_SHARED points at the shared folder (default ../shared);
# BENCH_SETS chooses the sets; BENCH_NN points at another copy of src/core/nn
# (e.g. a snapshot while that folder is being edited).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
OUT=${BENCH_BUILD:-${TMPDIR:-/tmp}/pgvision-bench}
mkdir -p "$OUT"
CC=${CC:-cc}
$CC -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror \
	-I"$ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	-o "$OUT/bench_compact" "$ROOT/tools/bench_compact.c" \
	"$ROOT"/src/core/common/*.c "$ROOT"/src/core/image/*.c \
	"$ROOT"/src/core/learn/*.c "$ROOT"/src/core/model/*.c "$ROOT"/src/core/detect/*.c \
	"${BENCH_NN:-$ROOT/src/core/nn}"/*.c \
	-ljpeg -lpng -lopenblas -lm -lpthread
SETS=${BENCH_SETS:-"azure-trees-cls mslearn-fruit-cls fruit-multilabel clothing-small"}
ARGS=""
for s in $SETS; do ARGS="$ARGS $SHARED/datasets/$s"; done
exec "$OUT/bench_compact" "$@" $ARGS
