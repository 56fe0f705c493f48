#!/usr/bin/env bash
# Set pgvision up on a fresh Debian 12 machine and show what it does:
# installs the system packages, builds and installs the extension, starts a
# throwaway PostgreSQL cluster (as a non-root user) unless psql already
# reaches a server, then runs tools/demo.sql.  Run as root or with sudo:
#     tools/quickstart.sh
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

[ "${PGV_SKIP_PACKAGES:-0}" = 1 ] || pgv_install_packages
pgv_build_install

if [ "$(id -u)" != 0 ] && psql -X -Atqc 'SELECT 1' >/dev/null 2>&1; then
	pgv_log "using the configured server ($(psql -X -Atqc 'SELECT current_setting($$server_version$$)'))"
	run_psql() { psql -X -v ON_ERROR_STOP=1 "$@"; }
else
	dir=/tmp/pgvision-quickstart
	pgv_stop_cluster "$dir"
	pgv_sudo rm -rf "$dir"
	pgv_start_cluster "$dir"
	run_psql() { pgv_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" psql -X -v ON_ERROR_STOP=1 -U "$PGUSER" "$@"; }
	echo "The cluster keeps running; connect with: psql -h $dir -p $PGV_PORT -U $PGUSER postgres"
	echo "Stop it with: sudo -u $PGV_OS_USER $("$(pgv_pg_config)" --bindir)/pg_ctl -D $dir/data stop"
fi

pgv_log "demo (tools/demo.sql)"
mkdir -p /tmp/pgvision-demo && cp "$PGV_ROOT/tools/demo.sql" "$PGV_ROOT/tools/demo_images.sql" /tmp/pgvision-demo/ && chmod -R a+rX /tmp/pgvision-demo
run_psql -d postgres -f /tmp/pgvision-demo/demo.sql
