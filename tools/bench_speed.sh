#!/bin/bash
# bench_speed.sh: issue 12 part 6, the speed figures in one run, single
# thread unless stated, printed as one table (docs/backbones.md, "Speed in
# one run").  Not a test: run it by hand against a running cluster where
# pgvision is installed, as a superuser on the same host:
#
#   PGHOST=/tmp PGPORT=54391 PGUSER=postgres tools/bench_speed.sh
#   tools/bench_speed.sh --table DIR     (the table again from a run's raw output)
#
# It runs the existing benchmarks and reads their output, so each figure is
# measured the way its own script documents:
#   peak      tools/bench_peak.c: multiply-adds per second of FMA (AVX2,
#             AVX-512) and VPDPBUSD (AVX-VNNI, AVX-512 VNNI) on registers
#   networks  tools/bench_int8.sh PHOTOS: MobileNet V2, its TF2 int8
#             per-channel file and MobileNet-EdgeTPU at 224, float and int8
#             engines (multiply-adds from the shapes: cv_net_get_info) and
#             onnxruntime's float and integer (QDQ) models; then the
#             detector's backbone (MobileNet V2 cut at its stride-16 and
#             stride-32 maps, tensors 142 and 166) at 320 and 416, our
#             engines (bench_int8 --size --tensor) and onnxruntime
#             (tools/peer_cut_onnx.py, tools/peer_ort_maps.js)
#   first     tools/bench_first_call.sh FIRST_REPEAT: a new connection's first
#             prediction with the shared prepared weights (mapped), LOAD apart
#   scan      tools/bench_parallel_scan.sh SCAN_ROWS SCAN_REPEAT: 0, 1 and 2
#             parallel workers (and pgvision.threads 1 and 2)
#   sql       cv_predict through SQL per photo: the scan's table in one warm
#             connection, no parallel workers
# Environment: PHOTOS (default 20), FIRST_REPEAT (5), SCAN_ROWS (144),
# SCAN_REPEAT (3), REPEAT (50, runs per network timing), STAT (min: the
# table takes each network's fastest run, the least disturbed figure on a
# shared machine; median for the median).  Everything the
# scripts need they set up as they say (python3-onnx, onnxruntime-node).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
SHARED=$(cd "$SHARED" && pwd)
PHOTOS=${PHOTOS:-20}
REPEAT=${REPEAT:-50}
STAT=${STAT:-min}
# --table DIR prints the table again from an earlier run's raw output
if [ "${1:-}" = --table ]; then
	OUT=$2
else
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/pgvision_bench_speed.XXXXXX")
fi
MODEL=mobilenet_v2_1.0_224_quant
TFLITE=$SHARED/models/$MODEL.tflite
DB=pgvision_first_call
load() { cut -d' ' -f1-3 /proc/loadavg; }

peak() { awk -v k="$1" '$1 == k && $2 != "n/a" { print $2 }' "$OUT/peak.txt"; }
if [ "${1:-}" != --table ]; then
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(load), $(date -u '+%F %H:%M UTC')"

# --- the physical limit
cc -O2 -o "$OUT/bench_peak" "$ROOT/tools/bench_peak.c"
"$OUT/bench_peak" | tee "$OUT/peak.txt"

# --- networks at 224 and the 320 cut (bench_int8.sh), then the cut at 416
echo "== networks (tools/bench_int8.sh $PHOTOS), load $(load)" >&2
"$ROOT/tools/bench_int8.sh" "$PHOTOS" | tee "$OUT/int8.txt" >&2
BIN=${TMPDIR:-/tmp}/pgvision_bench_int8/bench_int8
{
	echo "== $MODEL cut at the stride-32 map, 416x416"
	OPENBLAS_NUM_THREADS=1 "$BIN" "$TFLITE" --size 416 --tensor 166 --repeat "$REPEAT"
} | tee -a "$OUT/int8.txt" >&2

# onnxruntime on the detector's cut at both sizes, from the peer's float model
for size in 320 416; do
	cut=$OUT/cut.$size.onnx
	/usr/bin/python3 "$ROOT/tools/peer_cut_onnx.py" "$TFLITE" 142,166 "$size" "$cut" \
		--onnx "/tmp/peers/$MODEL.onnx" >/dev/null
	# any pixels: the time does not depend on them
	/usr/bin/python3 -c "import sys, os; n = $size; sys.stdout.buffer.write(b'P6\n%d %d\n255\n' % (n, n) + os.urandom(n * n * 3))" \
		>"$OUT/view.$size.ppm"
	node "$ROOT/tools/peer_ort_maps.js" "$cut" "$OUT/view.$size.ppm" --repeat "$REPEAT" |
		sed "s/^/cut $size: /" | tee -a "$OUT/ort_cut.txt" >&2
done

# --- first call, parallel scan, SQL per photo (the cluster in PG*)
echo "== first call (tools/bench_first_call.sh ${FIRST_REPEAT:-5}), load $(load)" >&2
"$ROOT/tools/bench_first_call.sh" "${FIRST_REPEAT:-5}" 2>/dev/null | tee "$OUT/first.txt" >&2
echo "== parallel scan (tools/bench_parallel_scan.sh), load $(load)" >&2
"$ROOT/tools/bench_parallel_scan.sh" "${SCAN_ROWS:-144}" "${SCAN_REPEAT:-3}" 2>/dev/null |
	tee "$OUT/scan.txt" >&2
# one connection, warm, no workers: ms per photo of the scan's table
echo "== cv_predict through SQL, load $(load)" >&2
for project in mobilenet_v2_float mobilenet_v2_int8; do
	psql -qAt -d "$DB" -v ON_ERROR_STOP=1 -c "SET max_parallel_workers_per_gather = 0" \
		-c "SELECT count(*) FROM photos, cv_predict('$project', photo) LIMIT 1" -c '\timing on' \
		-c "SELECT count(*) FROM photos, cv_predict('$project', photo)" \
		-c "SELECT count(*) FROM photos, cv_predict('$project', photo)" \
		-c "SELECT count(*) FROM photos, cv_predict('$project', photo)" |
		awk -v p="$project" -v n="$(psql -qAt -d "$DB" -c 'SELECT count(*) FROM photos')" \
			'/^Time:/ { t = $2; if (best == "" || t < best) best = t }
			 END { printf "sql %s %.2f\n", p, best / n }'
done | tee "$OUT/sql.txt" >&2
fi

# --- the table
echo
echo "Speed in one run, single thread ($STAT ms of each network's runs; GMAC/s = the network's multiply-adds from its shapes / time;"
echo "peak = bench_peak's FMA zmm for float, VPDPBUSD zmm for int8; ort = onnxruntime in the same run), load now $(load)"
awk -v STAT="$STAT" -v fma="$(peak fma512)" -v vnni="$(peak vnni512)" -v fma2="$(peak fma256)" -v vnni2="$(peak vnni256)" '
	FILENAME ~ /int8.txt$/ && /^== / {
		net = $2; size = $NF; sub(/,$/, "", net); sub(/_1\.0_224.*/, "", net); sub(/_224_1\.0.*/, "", net)
		if ($0 ~ / cut /) net = net "-cut"
		key = net " " size; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
	FILENAME ~ /int8.txt$/ && /^(float|int8) +engine: median/ {
		e = $1; ms[key, e] = $(STAT == "min" ? 7 : 4); sub(/,$/, "", ms[key, e]); macs[key] = $0
		sub(/^.*[0-9]+x[0-9]+, /, "", macs[key]); sub(/ M MACs.*/, "", macs[key]) }
	FILENAME ~ /int8.txt$/ && /^onnxruntime float: median/ { ort[key, "float"] = $(STAT == "min" ? 7 : 4) }
	FILENAME ~ /int8.txt$/ && /^onnxruntime integer \(QDQ\): median/ { ort[key, "int8"] = $(STAT == "min" ? 8 : 5) }
	FILENAME ~ /ort_cut.txt$/ && /onnxruntime/ {
		sz = $2; sub(/:/, "", sz); for (i = 1; i <= NF; i++) if ($i == STAT) { v = $(i + 1); sub(/,/, "", v) }
		ort["mobilenet_v2-cut " sz "x" sz, "float"] = v }
	END {
		printf "%-26s %-6s %8s %8s %7s %8s %8s\n", "network", "engine", "ms", "GMAC/s", "%peak", "ort ms", "ms/ort"
		for (i = 1; i <= n; i++) {
			k = order[i]
			for (j = 1; j <= 2; j++) {
				e = j == 1 ? "float" : "int8"
				if (ms[k, e] == "") continue
				g = macs[k] / ms[k, e]
				p = (e == "float" ? fma : vnni)
				o = ort[k, e]
				printf "%-26s %-6s %8.2f %8.1f %6.1f%% %8s %8s\n", k, e, ms[k, e], g, (p > 0 ? 100 * g / p : 0),
					(o == "" ? "-" : o), (o == "" ? "-" : sprintf("%.2f", ms[k, e] / o))
			}
		}
		printf "peak, GMAC/s: FMA ymm %s, FMA zmm %s, VPDPBUSD ymm %s, VPDPBUSD zmm %s\n", fma2, fma, vnni2, vnni
	}' "$OUT/int8.txt" "$OUT/ort_cut.txt"
echo
echo "cv_predict('project', photo) through SQL, ms per photo, one warm connection, fruit photos:"
awk '{ printf "  %s %s\n", $2, $3 }' "$OUT/sql.txt"
echo "first prediction in a new connection, mapped prepared weights (median wall ms / CPU ms; LOAD apart):"
awk '$2 == "mapped" { printf "  %-24s first %s / %s, second %s, LOAD %s, anonymous %s MB\n", $1, $3, $4, $5, $7, $8 }' "$OUT/first.txt"
echo "parallel scan (bench_parallel_scan.sh):"
grep -E '^(scan of|2 workers|one prediction)' "$OUT/scan.txt" | sed 's/^/  /'
echo "raw output: $OUT"
