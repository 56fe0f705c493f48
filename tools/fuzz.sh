#!/usr/bin/env bash
# tools/fuzz.sh HARNESS SECONDS: fuzz one reader for a while (of src/core,
# or an annotation reader of pgvision-load).
#
# Builds the libFuzzer harnesses of test/fuzz (clang, ASan + UBSan, coverage)
# in $PGV_FUZZ_BUILD (default /tmp/pgvision-fuzz), copies the harness's
# replay inputs (seeds, regression inputs, test images) into a working
# corpus there, adds shared files (never committed: see docs/fuzzing.md):
# the smallest shared model for the TFLite harnesses, the datasets'
# manifests for the loader's (as CSV, or written as COCO, Custom Vision and
# VOC files by tools/lib/manifest_annotations.pl), and runs the harness
# niced for SECONDS.  Prints the executions and the crashes; each crashing input is
# left in $PGV_FUZZ_BUILD/crashes-HARNESS, to be fixed in the core and added
# to test/fuzz/regress/HARNESS.
#
#   tools/fuzz.sh jpeg 600
#   tools/fuzz.sh list                  the harnesses
# Environment: PGVISION_SHARED (default ../shared), PGV_FUZZ_BUILD,
# PGV_FUZZ_FLAGS (more libFuzzer flags, e.g. -jobs=2).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

FUZZ=$PGV_ROOT/test/fuzz
BUILD=${PGV_FUZZ_BUILD:-/tmp/pgvision-fuzz}
harnesses=$(cd "$FUZZ" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//' | grep -vx common)

if [ "${1:-}" = list ]; then echo "$harnesses"; exit 0; fi
[ $# = 2 ] || { echo "usage: $0 HARNESS SECONDS (harnesses: $(echo $harnesses))" >&2; exit 2; }
h=$1 secs=$2
echo "$harnesses" | grep -qx "$h" || { echo "no harness $h (harnesses: $(echo $harnesses))" >&2; exit 2; }

nice -n 10 make -C "$FUZZ" -s -j2 BUILD="$BUILD" "$BUILD/fuzz_$h"

corpus=$BUILD/corpus-$h crashes=$BUILD/crashes-$h
mkdir -p "$corpus" "$crashes"
(cd "$FUZZ" && make -s BUILD="$BUILD" "corpus-$h") | (cd "$FUZZ" && xargs -r cp -t "$corpus")
case $h in
	tflite) cp "$(pgv_shared_dir)/models/mobilenet_v1_0.25_128_quant.tflite" "$corpus/" ;;
	tflite_with)	# the same file behind an options header: a cut and a new size
		m=$(pgv_shared_dir)/models/mobilenet_v1_0.25_128_quant.tflite
		{ printf '\x14\x60\x50\x1e\0\0\0\0'; cat "$m"; } > "$corpus/mobilenet_v1_cut" ;;
	csv)	# the classification manifests (file,tags), but the 170 kB one
		for d in azure-trees-cls fruit-multilabel mslearn-fruit-cls; do
			cp "$(pgv_shared_dir)/datasets/$d/manifest.csv" "$corpus/manifest-$d.csv"
		done ;;
	coco|customvision|voc)	# the detection manifests in the reader's format
		for d in azure-forkscissors-od mslearn-fruit-od raccoon-od; do
			m=$(pgv_shared_dir)/datasets/$d/manifest.jsonl
			if [ "$h" = voc ]; then
				rm -rf "$BUILD/voc-$d"
				perl "$PGV_ROOT/tools/lib/manifest_annotations.pl" voc "$m" "$BUILD/voc-$d"
				for x in "$BUILD/voc-$d"/*.xml; do cp "$x" "$corpus/$d-$(basename "$x")"; done
			else
				perl "$PGV_ROOT/tools/lib/manifest_annotations.pl" "$h" "$m" "$corpus/$d.json"
			fi
		done ;;
esac
# The loader's readers print a line for every bad annotation: stderr is
# closed for the fuzzing (libFuzzer keeps its own and the sanitizers'
# reports on a copy of it; a crash's "broken contract" line shows when
# its input is replayed).
case $h in coco|customvision|voc|csv) quiet=-close_fd_mask=2 ;; *) quiet= ;; esac

log=$BUILD/fuzz-$h.log
pgv_log "fuzzing $h for $secs s (corpus $corpus, log $log)"
# OpenBLAS's threads are never used by these small nets; one thread keeps
# LeakSanitizer's stop-the-world scan simple.  rss 2.5 GB: the caps of the
# readers allow a few hundred MB, anything far beyond is itself a finding.
status=0
OPENBLAS_NUM_THREADS=1 nice -n 10 "$BUILD/fuzz_$h" -max_total_time="$secs" \
	-rss_limit_mb=2560 -timeout=30 -print_final_stats=1 \
	-artifact_prefix="$crashes/" $quiet ${PGV_FUZZ_FLAGS:-} "$corpus" > "$log" 2>&1 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
# libFuzzer names its findings crash-, leak-, timeout- and oom-; slow-unit-
# files are only inputs that took over 10 s (worth a look, not failures).
ncrash=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
nslow=$(find "$crashes" -type f -name 'slow-unit-*' | wc -l)
tail -5 "$log"
echo "fuzz_$h: ${execs:-?} executions in $secs s, exit $status, $ncrash crashing inputs, $nslow slow inputs (in $crashes)"
[ "$status" = 0 ]
