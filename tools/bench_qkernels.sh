#!/bin/sh
# bench_qkernels.sh: time the integer kernels of the int8 engine (nn_qconv,
# nn_qdepthwise: AVX-512 VNNI, AVX2, reference) against the float kernels
# (nn_conv2d, nn_depthwise) on MobileNet-like shapes, single thread.  Not a
# test: run it by hand from the repository root.
#
#   tools/bench_qkernels.sh [--no-ref]
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${TMPDIR:-/tmp}/pgvision_bench
mkdir -p "$OUT"

BIN=$OUT/bench_qkernels
cc -O2 -g -std=gnu11 -I"$ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
    -o "$BIN" "$ROOT/tools/bench_qkernels.c" "$ROOT"/src/core/*/*.c \
    -lopenblas -ljpeg -lpng -lm -lpthread
OPENBLAS_NUM_THREADS=1 "$BIN" "$@"
