#!/bin/sh
# bench_backbone.sh: time src/core/nn on MobileNet V2 224 against onnxruntime
# on the same network and the same pixels, single thread, and compare the
# 1001 scores.  Not a test: run it by hand from the repository root.
#
#   tools/bench_backbone.sh [MODEL_NAME] [IMAGE] [extra bench_backbone args]
#
# Setup (done here when missing, as ../shared/peers/README.md "Regenerate"
# describes): onnxruntime-node under /tmp/ort, the ONNX conversions under
# /tmp/peers.  Derived files stay out of the repository.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" && pwd)
MODEL=${1:-mobilenet_v2_1.0_224_quant}
IMAGE=${2:-$SHARED/images/cat.bmp}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
REPEAT=${REPEAT:-200}
OUT=${TMPDIR:-/tmp}/pgvision_bench
mkdir -p "$OUT"

# --- onnxruntime peer setup ---
if ! /usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null; then
    echo "installing python3-numpy python3-onnx libjpeg-turbo-progs" >&2
    apt-get install -y python3-numpy python3-onnx libjpeg-turbo-progs >/dev/null
fi
if [ ! -d /tmp/ort/node_modules/onnxruntime-node ]; then
    echo "installing onnxruntime-node into /tmp/ort" >&2
    mkdir -p /tmp/ort
    (cd /tmp/ort && { [ -f package.json ] || npm init -y >/dev/null; } &&
        npm install --ignore-scripts onnxruntime-node >/dev/null)
fi
mkdir -p /tmp/peers
if [ ! -f /tmp/peers/$MODEL.onnx ]; then
    echo "converting $MODEL to /tmp/peers" >&2
    (cd "$SHARED/peers" && /usr/bin/python3 tflite2onnx.py ../models/$MODEL.tflite \
        /tmp/peers/$MODEL.onnx >/dev/null)
fi

# --- our benchmark binary, built from the core (image + nn) ---
BIN=$OUT/bench_backbone
cc -O2 -g -std=gnu11 -I"$ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
    -o "$BIN" "$ROOT/tools/bench_backbone.c" "$ROOT"/src/core/common/*.c \
    "$ROOT"/src/core/image/*.c "$ROOT"/src/core/nn/*.c "$ROOT"/src/core/export/onnx_proto.c \
    "$ROOT"/src/core/export/onnx_encode.c \
    -lopenblas -ljpeg -lpng -lm -lpthread

# --- onnxruntime: timing, and the exact resized pixels and scores ---
echo "== onnxruntime-node (../shared/peers/run_ort.js), 1 thread"
(cd "$SHARED/peers" && node run_ort.js /tmp/peers/$MODEL.onnx "$IMAGE" --threads 1 \
    --repeat "$REPEAT" --save "$OUT") | tee "$OUT/ort.txt"
ORT_MS=$(grep -Eo 'median [0-9.]+' "$OUT/ort.txt" | head -1 | awk '{print $2}')
base=$(basename "$IMAGE" | sed 's/\.[^.]*$//')
PPM=$(ls "$OUT"/"$base".*.ppm 2>/dev/null | head -1 || true)
F32="$OUT/$base.out.f32"

echo
echo "== pgvision src/core/nn"
set -- "$SHARED/models/$MODEL.tflite" "$IMAGE" --repeat "$REPEAT" --threads 1 "$@"
[ -n "$PPM" ] && set -- "$@" --pixels "$PPM"
[ -f "$F32" ] && set -- "$@" --ref "$F32"
"$BIN" "$@" | tee "$OUT/ours.txt"
OURS_MS=$(awk '/^network /{print $2}' "$OUT/ours.txt")
LIMIT_MS=$(awk '/^limit /{print $2}' "$OUT/ours.txt")

echo
echo "== summary ($MODEL, single thread, ms per image, network only)"
echo "pgvision      $OURS_MS"
echo "onnxruntime   ${ORT_MS:-?}"
echo "sgemm limit   $LIMIT_MS"
if [ -n "${ORT_MS:-}" ]; then
    awk -v a="$OURS_MS" -v b="$ORT_MS" 'BEGIN { printf "ratio         %.2fx onnxruntime\n", a / b }'
fi
