#!/usr/bin/env bash
# bench_detect_ratio.sh: issue 8's speed target measured as one ratio in one run:
# cv_detect end to end (decode included, one thread, tools/bench_detect_time.c on
# a detector trained on raccoon-od's fixed 70%) against onnxruntime's backbone cut
# at the same two maps and input size (tools/peer_ort_maps.js, one thread),
# interleaved: onnxruntime, ours, onnxruntime, ours, ... onnxruntime.
#
#     tools/bench_detect_ratio.sh [--rounds N] [--set NAME] [--out DIR]
#
#   --rounds  rounds of (ours, onnxruntime) after the first onnxruntime run (default 5)
#   --set     the detection set of ../shared/datasets (default raccoon-od)
#   --out     where tools/bench_detect.sh left its binary, cut model and view
#             (default ${TMPDIR:-/tmp}/pgvision_bench_detect; run bench_detect.sh
#             --sizes 320 first if it holds no cut model)
#
# Per round: our median over 3 passes of the test photos of the mean per photo
# (wall and this thread's CPU), and onnxruntime's median over 100 runs (wall and
# the process's CPU) before and after it; the ratio is ours over the mean of the
# two onnxruntime figures around it.  The median of the rounds' ratios is the
# figure to quote, with the load average printed beside it.  A benchmark, not a
# test: it prints figures and asserts nothing.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/interleave.sh"
SHARED=$(pgv_shared_dir)

rounds=5 set=raccoon-od out=${TMPDIR:-/tmp}/pgvision_bench_detect
while [ $# -gt 0 ]; do
	case $1 in
		--rounds) rounds=$2; shift 2 ;;
		--set) set=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
model=mobilenet_v2_1.0_224_quant
tflite=$SHARED/models/$model.tflite
cut=$out/$model.cut.320.onnx
view=$out/maps.$model.320.f32.ppm
[ -f "$cut" ] && [ -f "$view" ] || { echo "no $cut: run tools/bench_detect.sh --sizes 320 first" >&2; exit 2; }
export ORT_NODE_MODULES=${ORT_NODE_MODULES:-/tmp/ort/node_modules}

pgv_log "building bench_detect and bench_detect_time into $out"
for b in bench_detect bench_detect_time; do
	cc -O2 -g -std=gnu11 -I"$PGV_ROOT/src/core" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
		-o "$out/$b" "$PGV_ROOT/tools/$b.c" "$PGV_ROOT"/src/core/*/*.c \
		-ljson-c -lopenblas -ljpeg -lpng -lm -lpthread
done
pgv_log "training the final detector on $set (one thread count as bench_detect.sh, --folds 1)"
"$out/bench_detect" --backbone "$tflite" --size 320 --folds 1 --save-model "$out/ratio" \
	"$SHARED/datasets/$set" | grep -E '^  (test|cv_detect)'
mapfile -t photos <"$out/ratio.$set.test"

ort() { pgv_ort_maps "$cut" "$view"; }
ours() {
	"$out/bench_detect_time" --backbone "$tflite" --model "$out/ratio.$set.cvm" --rounds 3 "${photos[@]}" |
		awk '/^cv_detect end to end/ { for (i = 1; i <= NF; i++) { if ($i == "means") w = $(i + 1); if ($i == "wall,") c = $(i + 1) } print w, c }'
}

pgv_log "interleaved: onnxruntime, then $rounds x (cv_detect on ${#photos[@]} photos, onnxruntime); load $(cut -d' ' -f1-3 /proc/loadavg)"
pgv_interleave "$rounds" "cv_detect"
