# tools/lib/common.sh: shared steps of the README commands (sourced, not run).
#   pgv_install_packages   apt packages to build, test and run pgvision
#                          (libpq, libssl, json-c, libxml2: pgvision-load)
#                          (clang and its sanitizer runtimes: the sanitizer
#                          unit tests and the fuzz harnesses)
#                          (curl: tools/fetch-backbones.sh)
#                          (python3-numpy, python3-onnx: the TFLite export's
#                          independent reader, ../shared/peers/tflite2onnx.py)
#   pgv_build_install      make && make install
#   pgv_start_cluster DIR  a throwaway cluster owned by a non-root user
#   pgv_stop_cluster DIR
#   pgv_install_npm DIR    the npm packages the export tests run (onnxruntime-node, jpeg-js, pngjs,
#                          @litertjs/core)

PGV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
PGV_PORT=${PGV_PORT:-54329}
# The non-root account that owns throwaway clusters (Debian's postgres
# package creates it).
PGV_OS_USER=${PGV_OS_USER:-postgres}

# Sanitizer builds (tools/test.sh, test/fuzz): clang, ASan + UBSan, UB fatal.
PGV_SAN_CFLAGS="-O0 -g -fsanitize=address,undefined -fno-sanitize-recover=all"

pgv_log() { printf '\n== %s\n' "$*"; }

pgv_sudo() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

pgv_install_packages() {
	pgv_log "installing system packages"
	export DEBIAN_FRONTEND=noninteractive
	# Wait for a concurrent apt (unattended upgrades, another job) rather than fail.
	pgv_sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
	pgv_sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
		build-essential pkg-config perl \
		postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-client-$PG_MAJOR \
		libjpeg62-turbo-dev libpng-dev libopenblas-dev \
		libpq-dev libssl-dev libjson-c-dev libxml2-dev \
		libipc-run-perl libjpeg-turbo-progs netpbm curl ca-certificates \
		python3-numpy python3-onnx \
		clang libclang-rt-14-dev >/dev/null
	# Node.js for the export tests: the machine's own when it has one (a
	# NodeSource nodejs bundles npm and conflicts with Debian's npm
	# package), else Debian's.
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		pgv_sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
			nodejs npm >/dev/null
	fi
}

# pgv_install_npm DIR: npm install the packages docs/examples/run-onnx.js
# needs into DIR/node_modules, unless they are there already (a cache kept
# between runs, $PGV_NPM_DIR).  --ignore-scripts: onnxruntime-node ships its
# CPU binary inside the package and needs no install script; @litertjs/core
# (LiteRT.js, TFLite's runtime in WebAssembly, for run-onnx.js --litert)
# ships its .wasm files inside too.  Readable by everyone: the TAP tests run
# as the cluster's non-root user.
PGV_NPM_PACKAGES="onnxruntime-node jpeg-js pngjs @litertjs/core"
pgv_install_npm() {
	local dir=$1 p missing=0
	for p in $PGV_NPM_PACKAGES; do
		[ -f "$dir/node_modules/$p/package.json" ] || missing=1
	done
	if [ "$missing" = 1 ]; then
		command -v npm >/dev/null || { echo "pgvision: npm not found (apt-get install nodejs npm)" >&2; return 1; }
		pgv_log "installing npm packages into $dir ($PGV_NPM_PACKAGES)"
		mkdir -p "$dir"
		(cd "$dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
			npm install --ignore-scripts --no-audit --no-fund $PGV_NPM_PACKAGES >/dev/null)
	fi
	chmod -R a+rX "$dir"
}

pgv_pg_config() {
	local c=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
	[ -x "$c" ] || c=$(command -v pg_config)
	echo "$c"
}

# pgv_build_install [MAKE_VARIABLE=value ...]
pgv_build_install() {
	pgv_log "building and installing pgvision"
	local pgc; pgc=$(pgv_pg_config)
	make -C "$PGV_ROOT" -s PG_CONFIG="$pgc" -j"$(nproc)" "$@"
	pgv_sudo make -C "$PGV_ROOT" -s PG_CONFIG="$pgc" "$@" install
}

pgv_as_user() {
	if [ "$(id -un)" = "$PGV_OS_USER" ]; then "$@"
	elif [ "$(id -u)" = 0 ]; then runuser -u "$PGV_OS_USER" -- "$@"
	else sudo -u "$PGV_OS_USER" "$@"
	fi
}

# pgv_start_cluster DIR: initdb DIR/data and start it on $PGV_PORT with its
# socket in DIR; exports PGHOST, PGPORT, PGUSER for psql and pg_regress.
pgv_start_cluster() {
	local dir=$1 bindir
	bindir=$("$(pgv_pg_config)" --bindir)
	pgv_log "starting a throwaway cluster in $dir (port $PGV_PORT, user $PGV_OS_USER)"
	pgv_sudo mkdir -p "$dir"
	pgv_sudo chown "$PGV_OS_USER" "$dir"
	pgv_as_user "$bindir/initdb" -D "$dir/data" -U "$PGV_OS_USER" -A trust --no-sync --no-locale -E UTF8 >/dev/null
	pgv_as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
		"-p $PGV_PORT -k $dir -c listen_addresses='' -c fsync=off -c max_worker_processes=16" start >/dev/null
	export PGHOST=$dir PGPORT=$PGV_PORT PGUSER=$PGV_OS_USER
}

pgv_stop_cluster() {
	local dir=$1 bindir
	bindir=$("$(pgv_pg_config)" --bindir)
	[ -f "$dir/data/postmaster.pid" ] && pgv_as_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
}

# The shared folder (datasets, models, images) next to the repository.
pgv_shared_dir() {
	local d=${PGVISION_SHARED:-$PGV_ROOT/../shared}
	(cd "$d" 2>/dev/null && pwd) || { echo "pgvision: shared folder not found at $d (set PGVISION_SHARED)" >&2; return 1; }
}
