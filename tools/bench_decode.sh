#!/bin/sh
# bench_decode.sh
#   Build tools/bench_decode.c against src/core (common + image only) and time
#   decoding of a 1920x1080 JPEG made at run time from a shared photo:
#   full size, DCT-scaled (2/8 for a 224x224 model input, and 1/8),
#   validation and probing.
#
#   usage: tools/bench_decode.sh [ROUNDS]      (from anywhere; default 30)
#   needs: cc, libjpeg62-turbo-dev, libpng-dev, libjpeg-turbo-progs, netpbm
#   env:   PGVISION_SHARED (default ../shared beside the repository)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
PHOTO=$SHARED/datasets/fruit-od/images/banana_13.jpg	# 2850x2850 photo
WORK=${TMPDIR:-/tmp}/pgvision_bench
mkdir -p "$WORK"

# a 16:9 crop scaled to exactly 1920x1080, re-encoded as a typical camera JPEG
if [ ! -s "$WORK/photo_1920x1080.jpg" ]; then
	djpeg -ppm "$PHOTO" | pamcut -top 600 -height 1603 | pamscale -width 1920 -height 1080 |
		cjpeg -quality 90 > "$WORK/photo_1920x1080.jpg"
fi

cc -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror -I"$ROOT/src/core" \
	-o "$WORK/bench_decode" "$ROOT/tools/bench_decode.c" \
	"$ROOT"/src/core/common/*.c "$ROOT"/src/core/image/*.c -ljpeg -lpng -lm
"$WORK/bench_decode" "$WORK/photo_1920x1080.jpg" "${1:-30}"
