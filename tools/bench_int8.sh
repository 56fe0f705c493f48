#!/bin/bash
# bench_int8.sh: the int8 engine of src/core/nn (issue 12) against the
# float engine and against onnxruntime's float and integer runs of the
# same networks, one thread, in one run on this machine.  Not a test: run
# it by hand from the repository root; it prints figures.
#
#   tools/bench_int8.sh [PHOTOS]        (default 200 clothing-small photos)
#
# For mobilenet_v2 (uint8), tf2 mobilenet_v2 (int8 per-channel) and
# mobilenet_edgetpu (uint8) at 224, and mobilenet_v2 cut at the detector's
# stride-32 map at 320: the time of each engine and where it goes; for the
# whole networks, the float-to-integer gap on the same photos for pgvision
# and for onnxruntime (../shared/peers/tflite2onnx.py: the float model, and
# --qdq, which onnxruntime fuses into its integer kernels).  Sets up what it
# needs under /tmp as ../shared/peers/README.md says (python3-numpy,
# python3-onnx, onnxruntime-node); derived files stay out of the repository.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" && pwd)
NPHOTOS=${1:-200}
OUT=${TMPDIR:-/tmp}/pgvision_bench_int8
mkdir -p "$OUT"

if ! /usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null; then
	echo "installing python3-numpy python3-onnx" >&2
	apt-get install -y python3-numpy python3-onnx >/dev/null
fi
NODE_MODULES=${PGVISION_NODE_MODULES:-/tmp/pgvision-npm/node_modules}
if [ ! -d "$NODE_MODULES/onnxruntime-node" ]; then
	echo "installing onnxruntime-node into $(dirname "$NODE_MODULES")" >&2
	mkdir -p "$(dirname "$NODE_MODULES")"
	(cd "$(dirname "$NODE_MODULES")" && { [ -f package.json ] || npm init -y >/dev/null; } &&
		npm install --ignore-scripts onnxruntime-node >/dev/null)
fi
export PGVISION_NODE_MODULES=$NODE_MODULES

BIN=$OUT/bench_int8
cc -O2 -g -std=gnu11 -I"$ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	-o "$BIN" "$ROOT/tools/bench_int8.c" "$ROOT"/src/core/common/*.c \
	"$ROOT"/src/core/image/*.c "$ROOT"/src/core/nn/*.c "$ROOT"/src/core/export/onnx_proto.c \
	"$ROOT"/src/core/export/onnx_encode.c \
	-lopenblas -ljpeg -lpng -lm -lpthread

# every (count / N)-th photo of clothing-small's manifest: all its classes
awk -F, -v n="$NPHOTOS" -v dir="$SHARED/datasets/clothing-small" \
	'NR > 1 { f[++c] = $1 } END { for (i = 0; i < n && i < c; i++) print dir "/" f[int(i * c / n) + 1] }' \
	"$SHARED/datasets/clothing-small/manifest.csv" > "$OUT/photos.txt"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for spec in "mobilenet_v2_1.0_224_quant 128 0.0078125" \
	"tf2_mobilenet_v2_1.0_224_ptq 127 0.00784313725490196" \
	"mobilenet_edgetpu_224_1.0_uint8 128 0.007874015748031496"; do
	set -- $spec
	model=$1
	tflite=$SHARED/models/$model.tflite
	for kind in "" ".qdq"; do
		if [ ! -f "/tmp/peers/$model$kind.onnx" ]; then
			mkdir -p /tmp/peers
			(cd "$SHARED/peers" && /usr/bin/python3 tflite2onnx.py "$tflite" "/tmp/peers/$model$kind.onnx" \
				${kind:+--qdq} >/dev/null)
		fi
	done
	echo
	echo "== $model, 224x224"
	rm -rf "$OUT/$model" && mkdir -p "$OUT/$model"
	OPENBLAS_NUM_THREADS=1 "$BIN" "$tflite" --photos "$OUT/photos.txt" --out "$OUT/$model"
	node "$ROOT/tools/bench_int8_ort.js" "/tmp/peers/$model.onnx" "/tmp/peers/$model.qdq.onnx" \
		"$OUT/$model" "$2" "$3" 2>/dev/null
done

# the detector's backbone: mobilenet_v2 cut at its stride-32 map (tensor
# 166, expanded_conv_16/project, which needs every block before it) at 320
echo
echo "== mobilenet_v2_1.0_224_quant cut at the stride-32 map, 320x320"
OPENBLAS_NUM_THREADS=1 "$BIN" "$SHARED/models/mobilenet_v2_1.0_224_quant.tflite" --size 320 --tensor 166
