#!/bin/bash
# bench_threads.sh: pgvision.threads (issue 12 part 5) without SQL, one
# image: tools/bench_threads.c runs MobileNet V2 on the float and int8
# engines and the 224 x 224 render of a photo with 1 and N threads,
# interleaved run by run, and says whether every thread count gave the same
# bytes.  Not a test: run it by hand from any directory; it prints figures.
# On a shared machine compare the ratios of one run only.
#
#   tools/bench_threads.sh [THREADS] [REPEAT]     (defaults 2 and 100)
#
# Environment: MODEL (a .tflite under ../shared/models, default
# mobilenet_v2_1.0_224_quant), PHOTO (default ../shared/images/cat.bmp).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" && pwd)
THREADS=${1:-2}
REPEAT=${2:-100}
MODEL=$SHARED/models/${MODEL:-mobilenet_v2_1.0_224_quant}.tflite
PHOTO=${PHOTO:-$SHARED/images/cat.bmp}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/pgvision_bench_threads.XXXXXX")

cc -O2 -g -std=gnu11 -I"$ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	-o "$OUT/bench_threads" "$ROOT/tools/bench_threads.c" "$ROOT"/src/core/common/*.c \
	"$ROOT"/src/core/image/*.c "$ROOT"/src/core/nn/*.c "$ROOT"/src/core/learn/augment.c \
	"$ROOT"/src/core/learn/features.c "$ROOT"/src/core/export/onnx_proto.c \
	"$ROOT"/src/core/export/onnx_encode.c -lopenblas -ljpeg -lpng -lm -lpthread

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$OUT/bench_threads" "$MODEL" "$PHOTO" --threads "$THREADS" --repeat "$REPEAT"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$OUT"
