#!/bin/sh
# Build tools/bench_compact against the core and run it on the shared
# classification sets.  Extra arguments go to the program before the sets
# (e.g. --views 2, --blocks colour,hog).
#   tools/bench_compact.sh [options]
# PGVISION_SHARED points at the shared folder (default ../shared).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
OUT=${BENCH_BUILD:-${TMPDIR:-/tmp}/pgvision-bench}
mkdir -p "$OUT"
CC=${CC:-cc}
$CC -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror \
	-I"$ROOT/src/core" -o "$OUT/bench_compact" "$ROOT/tools/bench_compact.c" \
	"$ROOT"/src/core/common/*.c "$ROOT"/src/core/image/*.c \
	"$ROOT"/src/core/learn/*.c "$ROOT"/src/core/model/*.c \
	-ljpeg -lpng -lm
SETS=${BENCH_SETS:-"azure-trees-cls mslearn-fruit-cls fruit-multilabel clothing-small"}
ARGS=""
for s in $SETS; do ARGS="$ARGS $SHARED/datasets/$s"; done
exec "$OUT/bench_compact" "$@" $ARGS
