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

# A pretrained backbone, when one is at hand: the shared models folder in
# development (PGVISION_SHARED or ../shared), else tools/fetch-backbones.sh
# downloads MobileNet V2 from its public source (SHA-256 checked).  Without
# either, say how to import a file you have, and stop there: the demo above
# needs nothing fetched.
pgv_log "a pretrained backbone (tools/fetch-backbones.sh)"
backbone=mobilenet_v2
if shared=$(pgv_shared_dir 2>/dev/null) && [ -f "$shared/models/mobilenet_v2_1.0_224_quant.tflite" ]; then
	export PGV_BACKBONE_SOURCE=$shared/models
	photo=$shared/images/cat.bmp
fi
photo=${PGV_DEMO_PHOTO:-${photo:-}}
have=$(run_psql -d postgres -Atqc "SELECT count(*) FROM cv_domains WHERE name = '$backbone'")
if [ "$have" = 0 ]; then
	# psql reaches the throwaway cluster through the PG* variables
	# pgv_start_cluster exported (trust authentication on its socket).
	if ! "$PGV_ROOT/tools/fetch-backbones.sh" --import "$backbone" -- -d postgres; then
		echo "No backbone imported; the compact domain above needs none (docs/backbones.md)."
		exit 0
	fi
fi
if [ -n "$photo" ] && [ -f "$photo" ]; then
	{ printf "\\\\set photo '"; base64 -w0 "$photo"; printf "'\n"; cat "$PGV_ROOT/tools/demo_backbone.sql"; } |
		run_psql -d postgres -v backbone="$backbone" -f -
else
	echo "Set PGV_DEMO_PHOTO to a JPEG, PNG or BMP to see $backbone classify it."
fi
