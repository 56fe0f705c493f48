#!/usr/bin/env bash
# Run every pgvision test: the plain-C unit tests of src/core (also under
# ASan and UBSan), the fuzz harnesses over their regression corpora,
# pg_regress, the TAP tests and a 20-second load (tools/load.sh), against a
# throwaway cluster started here as a non-root user.  Works on a fresh
# Debian 12 machine as root or with sudo:
#     tools/test.sh
# Set PGV_SKIP_PACKAGES=1 to skip apt-get (packages already installed).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

[ "${PGV_SKIP_PACKAGES:-0}" = 1 ] || pgv_install_packages
# The export parity test (test/t/006) runs docs/examples/run-onnx.js in node.
PGV_NPM_DIR=${PGV_NPM_DIR:-/tmp/pgvision-npm}
pgv_install_npm "$PGV_NPM_DIR"
make -C "$PGV_ROOT" -s clean
pgv_build_install WERROR=1
SHARED=$(pgv_shared_dir)

SCRATCH=$(mktemp -d /tmp/pgvision-test.XXXXXX)
chmod 755 "$SCRATCH"
trap 'pgv_stop_cluster "$SCRATCH/cluster"' EXIT

passed=0
failed=0
count() { passed=$((passed + $1)); failed=$((failed + $2)); }

# 1. Unit tests of the core (no server).
pgv_log "unit tests (test/unit)"
unit_status=0
mkdir -p "$SCRATCH/export-fixtures"
PGVISION_SHARED=$SHARED PGVISION_EXPORT_FIXTURES=$SCRATCH/export-fixtures \
	make -C "$PGV_ROOT/test/unit" -s check > "$SCRATCH/unit.log" 2>&1 || unit_status=$?
cat "$SCRATCH/unit.log"
read -r up uf < <(awk '/^[0-9]+ passed, [0-9]+ failed$/ {p += $1; f += $3} END {print p+0, f+0}' "$SCRATCH/unit.log")
[ "$unit_status" = 0 ] || [ "$uf" != 0 ] || uf=1	# a build failure counts as a failure
count "$up" "$uf"

# The operator fixtures test_export_ops wrote (and test_export_onnx's int8
# classifier), run by onnxruntime beside
# pgvision's own results (test/export/check_fixtures.js).
pgv_log "export fixtures in onnxruntime (test/export)"
fixture_status=0
ORT_NODE_MODULES="$PGV_NPM_DIR/node_modules" node "$PGV_ROOT/test/export/check_fixtures.js" \
	"$SCRATCH/export-fixtures" > "$SCRATCH/fixtures.log" 2>&1 || fixture_status=$?
cat "$SCRATCH/fixtures.log"
read -r fp ff < <(awk '/^[0-9]+ passed, [0-9]+ failed$/ {p += $1; f += $3} END {print p+0, f+0}' "$SCRATCH/fixtures.log")
[ "$fixture_status" = 0 ] || [ "$ff" != 0 ] || ff=1
count "$fp" "$ff"

# 2. The same unit tests built with clang's AddressSanitizer and
# UndefinedBehaviorSanitizer (UB aborts), LeakSanitizer on: memory errors,
# undefined behaviour and leaks of the core fail them.  -O0, because clang
# needs minutes per SIMD kernel file at -O1 under the sanitizers; at -O0
# those kernels are far too slow for the whole-network tests, which
# therefore run the portable path (PGVISION_PORTABLE_KERNELS, test/unit/unit.c)
# while test_nn_fast and test_nn_cut still check the fast kernels on small
# nets.  test_nn_hostile takes 24 cases of each kind per model, as its
# valgrind run does (docs/backbones.md): the fuzz_tflite harness is where
# hostile files are tried by the hundred thousand.  The programs run one
# per core (CHECK_JOBS: they are single-threaded; 396 s one at a time on
# 2 December, when the whole run took 20 min 20 s).  OpenBLAS runs one
# thread, as pgvision runs it under PostgreSQL.
pgv_log "unit tests under ASan + UBSan (clang)"
SANBUILD=$SCRATCH/sanitize
san_status=0
san_start=$SECONDS
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
OPENBLAS_NUM_THREADS=1 PGVISION_PORTABLE_KERNELS=1 PGVISION_HOSTILE_CASES=24 PGVISION_INT8_QUICK=1 \
	PGVISION_SHARED=$SHARED CFLAGS="$PGV_SAN_CFLAGS" \
	make -C "$PGV_ROOT/test/unit" -s -j"$(nproc)" CHECK_JOBS="$(nproc)" BUILD="$SANBUILD" CC=clang check \
	> "$SCRATCH/unit-san.log" 2>&1 || san_status=$?
cat "$SCRATCH/unit-san.log"
read -r sp sf < <(awk '/^[0-9]+ passed, [0-9]+ failed$/ {p += $1; f += $3} END {print p+0, f+0}' "$SCRATCH/unit-san.log")
[ "$san_status" = 0 ] || [ "$sf" != 0 ] || sf=1
count "$sp" "$sf"
echo "sanitizer unit run: $((SECONDS - san_start)) s"

# 3. The fuzz harnesses (test/fuzz) replayed over their seeds and
# regression inputs: every input once, no fuzzing.  They link the core
# objects just built for the sanitizer unit tests.
pgv_log "fuzz regression corpora (test/fuzz)"
fuzz_status=0
OPENBLAS_NUM_THREADS=1 SAN_CFLAGS="$PGV_SAN_CFLAGS" \
	make -C "$PGV_ROOT/test/fuzz" -s BUILD="$SANBUILD" COVERAGE=0 check \
	> "$SCRATCH/fuzz.log" 2>&1 || fuzz_status=$?
cat "$SCRATCH/fuzz.log"
read -r fp ff < <(awk '/^[0-9]+ passed, [0-9]+ failed$/ {p += $1; f += $3} END {print p+0, f+0}' "$SCRATCH/fuzz.log")
[ "$fuzz_status" = 0 ] || [ "$ff" != 0 ] || ff=1
count "$fp" "$ff"
unset ASAN_OPTIONS UBSAN_OPTIONS

# The server runs as a non-root user that may not be able to read the
# checkout (a clone under /root, say): give it copies it can read.
cp -r "$PGV_ROOT/test" "$SCRATCH/test"
cp "$PGV_ROOT/docs/examples/run-onnx.js" "$SCRATCH/run-onnx.js"
cp "$PGV_ROOT/docs/examples/litert-node.js" "$SCRATCH/litert-node.js"	# run-onnx.js --litert loads it from beside itself
cp "$PGV_ROOT/tools/fetch-backbones.sh" "$SCRATCH/fetch-backbones.sh"
if pgv_as_user test -r "$SHARED/models/SOURCE.md"; then
	SERVER_SHARED=$SHARED
else
	cp -r "$SHARED" "$SCRATCH/shared"
	SERVER_SHARED=$SCRATCH/shared
fi
chmod -R a+rX "$SCRATCH"
export PGVISION_SHARED=$SERVER_SHARED PGVISION_TESTDATA=$SCRATCH/test/data

pgv_start_cluster "$SCRATCH/cluster"
pgc=$(pgv_pg_config)
pgxs=$(cd "$(dirname "$("$pgc" --pgxs)")/../.." && pwd)

# 4. pg_regress: one file per concern under test/sql.
pgv_log "pg_regress (test/sql)"
mkdir -p "$SCRATCH/regress" && chown "$PGV_OS_USER" "$SCRATCH/regress"
tests=$(cd "$PGV_ROOT/test/sql" && ls *.sql | sed 's/\.sql$//' | sort)
regress_status=0
pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" \
	PGVISION_SHARED="$PGVISION_SHARED" PGVISION_TESTDATA="$PGVISION_TESTDATA" \
	"$pgxs/src/test/regress/pg_regress" --bindir="$("$pgc" --bindir)" \
	--inputdir="$SCRATCH/test" --outputdir="$SCRATCH/regress" \
	--load-extension=pgvision $tests > "$SCRATCH/regress.log" 2>&1 || regress_status=$?
cat "$SCRATCH/regress.log"
rp=$(grep -cE '\.\.\. ok' "$SCRATCH/regress.log" || true)
rf=$(grep -cE '\.\.\. FAILED' "$SCRATCH/regress.log" || true)
if [ "$regress_status" != 0 ]; then
	[ -f "$SCRATCH/regress/regression.diffs" ] && head -200 "$SCRATCH/regress/regression.diffs"
	[ "$rf" != 0 ] || rf=1
fi
count "$rp" "$rf"

# 5. TAP tests: background workers, crashes, restarts.  They start their own
# clusters through PostgreSQL::Test::Cluster, as the non-root user, two at a
# time (each waits on server starts, restarts and workers much of its run:
# 313 s instead of 419 s for the twelve files of 1 December, same results).
pgv_log "TAP (test/t)"
tap_status=0
mkdir -p "$SCRATCH/tap" && chown "$PGV_OS_USER" "$SCRATCH/tap"
if ls "$SCRATCH/test/t/"*.pl >/dev/null 2>&1; then
	(cd "$SCRATCH/test" && pgv_as_user env PATH="$("$pgc" --bindir):$PATH" \
		TESTDIR="$SCRATCH/tap" PGVISION_SHARED="$PGVISION_SHARED" PGVISION_TESTDATA="$PGVISION_TESTDATA" \
		PGVISION_NODE_MODULES="$PGV_NPM_DIR/node_modules" PGVISION_RUNNER="$SCRATCH/run-onnx.js" \
		PGVISION_FETCH_BACKBONES="$SCRATCH/fetch-backbones.sh" \
		PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
		prove -j2 -I "$pgxs/src/test/perl" t/*.pl) > "$SCRATCH/tap.log" 2>&1 || tap_status=$?
	cat "$SCRATCH/tap.log"
	tf=$(grep -cE '^t/.* (Failed|Dubious|No subtests run)' "$SCRATCH/tap.log" || true)
	tt=$(ls "$SCRATCH/test/t/"*.pl | wc -l)
	[ "$tap_status" = 0 ] || [ "$tf" != 0 ] || tf=1
	[ "$tap_status" = 0 ] || for f in "$SCRATCH/tap/tmp_check/log/"*; do [ -f "$f" ] && { echo "--- $f"; tail -50 "$f"; }; done
	count $((tt - tf)) "$tf"
fi

# 6. Load: 8 clients predicting by project name for 20 s while 2 trainings
# run, on the throwaway cluster (tools/load.sh); fails on any error, prints
# its figures without judging them.
pgv_log "load (tools/load.sh 20)"
load_status=0
"$PGV_ROOT/tools/load.sh" 20 > "$SCRATCH/load.log" 2>&1 || load_status=$?
cat "$SCRATCH/load.log"
if [ "$load_status" = 0 ]; then count 1 0; else count 0 1; fi

pgv_log "summary"
echo "unit: exit $unit_status, export fixtures: exit $fixture_status, sanitizer unit: exit $san_status, fuzz replay: exit $fuzz_status, regress: exit $regress_status, tap: exit $tap_status, load: exit $load_status"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$unit_status" = 0 ] && [ "$fixture_status" = 0 ] && [ "$san_status" = 0 ] &&
	[ "$fuzz_status" = 0 ] && [ "$regress_status" = 0 ] && [ "$tap_status" = 0 ] && [ "$load_status" = 0 ]
