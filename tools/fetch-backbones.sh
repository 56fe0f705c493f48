#!/usr/bin/env bash
# fetch-backbones.sh: download the published pretrained networks pgvision's
# docs use, check each file's SHA-256, and optionally import them.
#
#   tools/fetch-backbones.sh [--dir DIR] [--import] [--list] [NAME ...] [-- psql options]
#
#   NAME      domain names to fetch (default: mobilenet_v2); --list shows them
#   --dir     where the files go (default ${XDG_CACHE_HOME:-~/.cache}/pgvision/models);
#             a file already there with the right SHA-256 is not fetched again
#   --import  then import each as a domain with cv_import_backbone through psql
#             (the bytes travel from this machine, so the server needs no copy;
#             the role needs pgvision_admin, docs/security.md); psql options
#             and the PG* variables choose the database
#
# The files come unchanged from the public repositories that published them
# (Apache-2.0), pinned to a commit, and must match the SHA-256 recorded here.
# Set PGV_BACKBONE_SOURCE to a folder or URL holding the same file names to
# use a mirror (a file:// URL works too).  Without network it says so and
# points to cv_import_backbone for a file you already have.
set -euo pipefail

# name|file|sha256|url|labels file (the sources: ../shared/models/SOURCE.md)
CORAL=https://raw.githubusercontent.com/google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41
CATALOGUE="
mobilenet_v2|mobilenet_v2_1.0_224_quant.tflite|7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776|$CORAL/mobilenet_v2_1.0_224_quant.tflite|imagenet_labels.txt
tf2_mobilenet_v2|tf2_mobilenet_v2_1.0_224_ptq.tflite|5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c|$CORAL/tf2_mobilenet_v2_1.0_224_ptq.tflite|imagenet_labels.txt
mobilenet_v1_025|mobilenet_v1_0.25_128_quant.tflite|cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785|$CORAL/mobilenet_v1_0.25_128_quant.tflite|imagenet_labels.txt
mobilenet_edgetpu|mobilenet_edgetpu_224_1.0_uint8.tflite|5d63cb8ebd518217794221bbcb929ebb89c5ec37d736429a95650e88f9e904fa|https://raw.githubusercontent.com/mlcommons/mobile_models/1f9963316b81a63fdef1040133ae64f6e8879c5b/v0_7/tflite/mobilenet_edgetpu_224_1.0_uint8.tflite|imagenet_labels.txt
ssd_mobilenet_v1|ssd_mobilenet_v1_coco_uint8.tflite|e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13|https://raw.githubusercontent.com/ken-unger/tflite/4f1b3949b40c55c493d774a30b796c3751367eee/tflite_model/image_object_detection/ssd_mobilenet_v1/ssd_mobilenet_v1.uint8.tflite|-
"
# The label files (file|sha256|url), from the same Coral commit.  The
# SSD detector is imported up to its feature maps, so its labels serve no
# function and are not fetched.
LABEL_FILES="
imagenet_labels.txt|b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1|$CORAL/imagenet_labels.txt
"

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

dir=${XDG_CACHE_HOME:-$HOME/.cache}/pgvision/models
import=0
names=()
psql_args=()
while [ $# -gt 0 ]; do
	case "$1" in
		--dir) dir=${2:?--dir needs a folder}; shift 2 ;;
		--import) import=1; shift ;;
		--list) echo "$CATALOGUE" | awk -F'|' 'NF == 5 {printf "%-18s %s\n", $1, $2}'; exit 0 ;;
		-h|--help) usage ;;
		--) shift; psql_args=("$@"); break ;;
		-*) echo "fetch-backbones: unknown option $1" >&2; usage ;;
		*) names+=("$1"); shift ;;
	esac
done
[ ${#names[@]} -gt 0 ] || names=(mobilenet_v2)
mkdir -p "$dir"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

fetch() {	# fetch URL DEST: a local folder's file, else curl, else wget; false on any failure
	if [ "${1#/}" != "$1" ]; then
		cp "$1" "$2" 2>/dev/null
	elif command -v curl >/dev/null; then
		curl -fsSL --retry 2 --connect-timeout 15 -o "$2" "$1"
	elif command -v wget >/dev/null; then
		wget -q -T 15 -O "$2" "$1"
	else
		echo "fetch-backbones: neither curl nor wget is installed" >&2
		return 1
	fi
}

# get NAME FILE SHA URL: DEST ($dir/FILE) checked against SHA, fetched
# unless already there; prints DEST, false (with the reason) on failure.
get() {
	local name=$1 file=$2 sha=$3 url=$4 dest tmp got
	[ -n "${PGV_BACKBONE_SOURCE:-}" ] && url=${PGV_BACKBONE_SOURCE%/}/$file
	dest=$dir/$file
	if [ -f "$dest" ] && [ "$(sha_of "$dest")" = "$sha" ]; then
		echo "fetch-backbones: $name: $dest is there and checks out" >&2
	else
		tmp=$(mktemp "$dest.partial.XXXXXX")
		if ! fetch "$url" "$tmp"; then
			rm -f "$tmp"
			echo "fetch-backbones: $name: could not download $url (no network, or the source moved)." >&2
			echo "  With the file at hand, import it yourself:" >&2
			echo "  SELECT cv_import_backbone('$name', <the file's bytes as bytea>);" >&2
			return 1
		fi
		got=$(sha_of "$tmp")
		if [ "$got" != "$sha" ]; then
			rm -f "$tmp"
			echo "fetch-backbones: $name: SHA-256 of $file is $got, not the published $sha; not kept" >&2
			return 1
		fi
		mv "$tmp" "$dest"
		echo "fetch-backbones: $name: $dest ($(stat -c %s "$dest") bytes, SHA-256 checked)" >&2
	fi
	echo "$dest"
}

status=0
fetched=()
for name in "${names[@]}"; do
	line=$(echo "$CATALOGUE" | awk -F'|' -v n="$name" '$1 == n')
	if [ -z "$line" ]; then
		echo "fetch-backbones: unknown network \"$name\" (--list shows the known ones)" >&2
		status=2
		continue
	fi
	IFS='|' read -r _ file sha url labels <<< "$line"
	dest=$(get "$name" "$file" "$sha" "$url") || { status=1; continue; }
	# The class names of the network's outputs, for cv_backbone_classify.
	labels_dest=-
	if [ "$labels" != - ]; then
		IFS='|' read -r lfile lsha lurl <<< "$(echo "$LABEL_FILES" | awk -F'|' -v f="$labels" '$1 == f')"
		labels_dest=$(get "$name" "$lfile" "$lsha" "$lurl") || { status=1; continue; }
	fi
	fetched+=("$name|$dest|$labels_dest")
done

if [ "$import" = 1 ]; then
	for entry in "${fetched[@]}"; do
		IFS='|' read -r name path labels_path <<< "$entry"
		# The bytes go base64 encoded inside the statement, on standard
		# input (too long for a command-line argument; the base64 alphabet
		# has no quote); the name through a psql variable, quoted by :'name'.
		# The labels file: one name a line, line n naming output n.
		if { printf "SELECT cv_import_backbone(:'name', decode('"; base64 -w0 "$path"
			 if [ "$labels_path" != - ]; then
				 printf "', 'base64'), string_to_array(rtrim(convert_from(decode('"; base64 -w0 "$labels_path"
				 printf "', 'base64'), 'UTF8'), E'\\n'), E'\\n')) IS NOT NULL AS imported;\n"
			 else
				 printf "', 'base64')) IS NOT NULL AS imported;\n"
			 fi; } |
			psql -X -q -A -t -v ON_ERROR_STOP=1 -v name="$name" "${psql_args[@]}" -f - >/dev/null; then
			echo "fetch-backbones: $name imported"
		else
			echo "fetch-backbones: $name: import failed (above); an existing domain of that name is kept" >&2
			status=1
		fi
	done
fi
exit $status
