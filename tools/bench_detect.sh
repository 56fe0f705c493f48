#!/usr/bin/env bash
# bench_detect.sh: object detection quality and speed on every detection set of
# ../shared/datasets (tools/bench_detect.c: fixed 70/30 split, the real trainer on
# the 70, detection on the 30), and the backbone's single-thread time beside
# onnxruntime's on the same cut network, same pixels, in the same run.
#
#     tools/bench_detect.sh [--sizes 224,320,416] [--backbone NAME] [--image FILE]
#                           [--repeat K] [--out DIR] [--cache DIR] [-- bench_detect args]
#
#   --sizes     input sizes (default 320, the extension's CV_DETECT_INPUT_SIZE)
#   --backbone  mobilenet_v2 (default), mobilenet_edgetpu, ssd_mobilenet_v1,
#               tf2_mobilenet_v2, or NAME for ../shared/models/NAME.tflite, or a path;
#               bench_detect picks the two maps itself (src/core/detect)
#   --image     the image of the numeric check and the backbone timings
#               (default ../shared/images/cat.bmp)
#   --repeat    timed runs of each backbone (default 100; medians and minimums)
#   --out       binary and derived files (default ${TMPDIR:-/tmp}/pgvision_bench_detect)
#   --cache     bench_detect's map cache (default its own, /tmp/pgvision-bench-cache)
#   after --     passed to bench_detect (--steps N, --views N, --threads N, ...)
#
# Per size: bench_detect --dump-maps writes our two maps of the image and times our
# backbone; tools/peer_cut_onnx.py cuts the onnxruntime peer's float model
# (../shared/peers/tflite2onnx.py) at the same two tensors and input size;
# tools/peer_ort_maps.js times it (1 thread, sequential, graph optimizations on) and
# compares its maps with ours; then bench_detect runs on the four sets.  A summary
# table follows.  Installs what it needs when missing (apt: libjson-c-dev and the
# build libraries, python3-numpy python3-onnx, nodejs npm; npm: onnxruntime-node into
# /tmp/ort with --ignore-scripts).  A benchmark, not a test: it prints figures and
# asserts nothing.  The machine's other jobs move the timings: compare same-run figures.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
SHARED=$(pgv_shared_dir)

sizes=320 backbone=mobilenet_v2 image=$SHARED/images/cat.bmp repeat=100
out=${TMPDIR:-/tmp}/pgvision_bench_detect cache=
while [ $# -gt 0 ]; do
	case $1 in
		--sizes) sizes=$2; shift 2 ;;
		--backbone) backbone=$2; shift 2 ;;
		--image) image=$2; shift 2 ;;
		--repeat) repeat=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		--cache) cache=$2; shift 2 ;;
		--) shift; break ;;
		*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
extra=("$@")
[ -n "$cache" ] && extra=(--cache "$cache" "${extra[@]}")
declare -A model_file=(
	[mobilenet_v2]=mobilenet_v2_1.0_224_quant
	[tf2_mobilenet_v2]=tf2_mobilenet_v2_1.0_224_ptq
	[mobilenet_edgetpu]=mobilenet_edgetpu_224_1.0_uint8
	[ssd_mobilenet_v1]=ssd_mobilenet_v1_coco_uint8
)
if [ -f "$backbone" ]; then
	tflite=$(cd "$(dirname "$backbone")" && pwd)/$(basename "$backbone")
else
	tflite=$SHARED/models/${model_file[$backbone]:-$backbone}.tflite
fi
[ -f "$tflite" ] || { echo "no backbone file $tflite" >&2; exit 2; }
model=$(basename "$tflite" .tflite)
sets=()
for s in azure-forkscissors-od mslearn-fruit-od fruit-od raccoon-od; do
	sets+=("$SHARED/datasets/$s")
done
mkdir -p "$out" /tmp/peers

# --- what the bench and the peer need
missing=()
[ -f /usr/include/json-c/json.h ] || missing+=(libjson-c-dev)
[ -f /usr/include/jpeglib.h ] || missing+=(libjpeg62-turbo-dev)
[ -f /usr/include/png.h ] || missing+=(libpng-dev)
[ -d /usr/include/x86_64-linux-gnu/openblas-pthread ] || missing+=(libopenblas-dev)
command -v cc >/dev/null || missing+=(build-essential)
/usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null || missing+=(python3-numpy python3-onnx)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	pgv_log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	pgv_sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
	pgv_sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
ORT_NODE_MODULES=${ORT_NODE_MODULES:-/tmp/ort/node_modules}
export ORT_NODE_MODULES
if [ ! -d "$ORT_NODE_MODULES/onnxruntime-node" ]; then
	pgv_log "installing onnxruntime-node into /tmp/ort"
	mkdir -p /tmp/ort
	(cd /tmp/ort && { [ -f package.json ] || npm init -y >/dev/null; } &&
		npm install --ignore-scripts onnxruntime-node >/dev/null)
fi

# --- bench_detect
pgv_log "building bench_detect into $out"
bin=$out/bench_detect
cc -O2 -g -std=gnu11 -I"$PGV_ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	-o "$bin" "$PGV_ROOT/tools/bench_detect.c" "$PGV_ROOT"/src/core/*/*.c \
	-ljson-c -lopenblas -ljpeg -lpng -lm -lpthread

# --- the peer's float model: tflite2onnx.py's conversion when it has one (not the SSD
# file, whose later operators it does not convert: peer_cut_onnx.py then converts the
# operators up to the maps itself)
full=/tmp/peers/$model.onnx
if [ ! -f "$full" ]; then
	(cd "$SHARED/peers" && /usr/bin/python3 tflite2onnx.py "$tflite" "$full" >/dev/null 2>"$out/tflite2onnx.err") ||
		{ rm -f "$full"; echo "tflite2onnx.py: $(tail -1 "$out/tflite2onnx.err"); cutting from the TFLite operators" >&2; }
fi
onnx_arg=()
[ -f "$full" ] && onnx_arg=(--onnx "$full")

declare -A ours_med ours_min ort_med ort_min
summary=$out/summary.$model.txt
: >"$summary"
for size in ${sizes//,/ }; do
	pgv_log "$model at $size: backbone, ours then onnxruntime ($(basename "$image"), $repeat runs each)"
	maps=$out/maps.$model.$size.f32
	"$bin" --backbone "$tflite" --size "$size" --dump-maps "$maps" "$image" --repeat "$repeat" | tee "$out/ours.txt"
	tensors=$(awk '/^map [01]: tensor/ {printf "%s%s", sep, $4; sep=","}' "$out/ours.txt")
	cut=$out/$model.cut.$size.onnx
	/usr/bin/python3 "$PGV_ROOT/tools/peer_cut_onnx.py" "$tflite" "$tensors" "$size" "$cut" "${onnx_arg[@]}"
	node "$PGV_ROOT/tools/peer_ort_maps.js" "$cut" "$maps.ppm" --ref "$maps" --repeat "$repeat" | tee "$out/ort.txt"
	ours_med[$size]=$(awk '/^backbone at/ {print $5}' "$out/ours.txt")
	ours_min[$size]=$(awk '/^backbone at/ {print $8}' "$out/ours.txt")
	ort_med[$size]=$(awk '/^onnxruntime/ {print $6}' "$out/ort.txt")
	ort_min[$size]=$(awk '/^onnxruntime/ {print $9}' "$out/ort.txt")

	pgv_log "$model at $size: bench_detect on ${#sets[@]} sets"
	"$bin" --backbone "$tflite" --size "$size" "${extra[@]}" "${sets[@]}" | tee "$out/bench.$size.txt"
	awk -v size="$size" '
		/^[^ ].*: [0-9]+ train \/ [0-9]+ test images/ { set = $1; sub(/:$/, "", set) }
		/^  test: mAP@0.5/ { m50[set] = $3; m75[set] = $5 }
		/^  training: first/ { first[set] = $3; rep[set] = $(NF - 3) }
		/^  cv_detect end to end/ { e2e[set] = $5; bb[set] = $(NF - 3); order[++n] = set }
		END { for (i = 1; i <= n; i++) { s = order[i]
			printf "%-22s %4d %7s %8s %8s %7s %7s\n", s, size, m50[s], m75[s], first[s] "/" rep[s], e2e[s], bb[s] } }
	' "$out/bench.$size.txt" >>"$summary"
done

pgv_log "summary: $model, single thread for detection and backbones (ms per image)"
printf '%-22s %4s %7s %8s %8s %7s %7s\n' set size mAP@0.5 mAP@0.75 "train s" e2e_ms bb_ms
cat "$summary"
echo "(train s: first / repeated, bench_detect --threads; e2e: cv_detect end to end, decode"
echo " included, mean over the test images; bb: backbone alone in the same bench_detect run, mean of 20)"
echo
printf '%4s %-22s %-22s %s\n' size "ours median / min" "onnxruntime med / min" "ratio ours/onnxruntime (median, min)"
for size in ${sizes//,/ }; do
	awk -v s="$size" -v a="${ours_med[$size]}" -v b="${ours_min[$size]}" -v c="${ort_med[$size]}" -v d="${ort_min[$size]}" \
		'BEGIN { printf "%4d %9.3f / %-10.3f %9.3f / %-10.3f %.2fx, %.2fx\n", s, a, b, c, d, a / c, b / d }'
done
echo "(backbone cut at the detector's two maps, $(basename "$image") rendered at each size, $repeat runs after 2 warm-ups)"
