# interleave.sh: one ratio of ours to onnxruntime measured in the same
# minutes, for the benchmarks that compare cv_detect with onnxruntime's cut
# backbone (tools/bench_detect_ratio.sh, tools/bench_detect_sql.sh).
# Sourced after common.sh.
#
#   pgv_median V...              the median of the numbers given
#   pgv_ort_maps CUT VIEW        onnxruntime's median wall and CPU ms over
#                                100 runs of the cut backbone on one view
#   pgv_interleave ROUNDS WHAT   onnxruntime, then ROUNDS x (ours, onnxruntime),
#                                with ours the caller's function `ours`
#                                (printing "wall cpu" ms per photo) and
#                                onnxruntime its function `ort`; per round
#                                the ratio of ours to the mean of the two
#                                onnxruntime figures around it, then the
#                                median ratios with the load average.

pgv_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

pgv_ort_maps() {
	node "$PGV_ROOT/tools/peer_ort_maps.js" "$1" "$2" --repeat 100 |
		awk '/^onnxruntime/ { m = ""; for (i = 1; i <= NF; i++) if ($i == "median") { if (m == "") m = $(i + 1); else cpu = $(i + 1) } print m, cpu }'
}

pgv_interleave() {
	local rounds=$1 what=$2 r ort_w ort_c our_w our_c next_w next_c ratio cratio
	local ratios=() cratios=()
	read -r ort_w ort_c < <(ort)
	printf '%5s %22s %22s %22s %8s %8s\n' round "onnxruntime before" "cv_detect wall / CPU" "onnxruntime after" ratio "CPU"
	for r in $(seq 1 "$rounds"); do
		read -r our_w our_c < <(ours)
		read -r next_w next_c < <(ort)
		ratio=$(awk -v a="$our_w" -v b="$ort_w" -v c="$next_w" 'BEGIN { printf "%.3f", a / ((b + c) / 2) }')
		cratio=$(awk -v a="$our_c" -v b="$ort_c" -v c="$next_c" 'BEGIN { printf "%.3f", a / ((b + c) / 2) }')
		printf '%5d %10s / %-9s %10s / %-9s %10s / %-9s %8s %8s\n' "$r" "$ort_w" "$ort_c" "$our_w" "$our_c" \
			"$next_w" "$next_c" "$ratio" "$cratio"
		ratios+=("$ratio") cratios+=("$cratio")
		ort_w=$next_w ort_c=$next_c
	done
	echo "median ratio $what / onnxruntime backbone at 320: wall $(pgv_median "${ratios[@]}")x, CPU $(pgv_median "${cratios[@]}")x" \
		"(load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M) UTC)"
}
