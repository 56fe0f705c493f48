#!/usr/bin/env bash
# Bump pgvision's version everywhere it is written, and start the upgrade
# script from the current version (every release gets one, even empty):
#     tools/bump_version.sh 0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
new=${1:?usage: tools/bump_version.sh NEW_VERSION}
[[ $new =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version must look like 1.2.3" >&2; exit 2; }
old=$(sed -n "s/^default_version = '\(.*\)'/\1/p" pgvision.control)
[ "$old" != "$new" ] || { echo "already at $new" >&2; exit 2; }

sed -i "s/^default_version = '.*'/default_version = '$new'/" pgvision.control
sed -i "s/\"version\": \"$old\"/\"version\": \"$new\"/g" META.json
upgrade=sql/pgvision--$old--$new.sql
[ -e "$upgrade" ] || cat > "$upgrade" <<SQL
-- pgvision $old -> $new
\\echo Use "ALTER EXTENSION pgvision UPDATE TO '$new'" to load this file. \\quit
SQL
echo "pgvision $old -> $new: pgvision.control, META.json, $upgrade"
