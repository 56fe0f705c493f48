# pgvision: PGXS build.
#   make && make install            build and install the extension
#   make unitcheck                  plain-C tests of src/core (no server)
#   pgvision-load                   the command-line loader (docs/loading.md),
#                                   built and installed with the extension
#   tools/test.sh                   every test against a throwaway cluster

EXTENSION  = pgvision
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pgvision.control)

MODULE_big = pgvision
CORE_SRCS  = $(sort $(wildcard src/core/*/*.c))
PG_SRCS    = $(sort $(wildcard src/pg/*.c))
OBJS       = $(CORE_SRCS:.c=.o) $(PG_SRCS:.c=.o)
HEADERS    = $(wildcard src/core/*/*.h src/pg/*.h)

# The current version's install script is generated from sql/pgvision.sql;
# the frozen install scripts of released versions (sql/pgvision--X.sql,
# committed) and the upgrade scripts (sql/pgvision--X--Y.sql) are installed
# as they are (docs/upgrades.md).
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA       = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS      = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)
TAP_TESTS    = 1

OPENBLAS_INC = $(firstword $(wildcard /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/aarch64-linux-gnu/openblas-pthread /usr/include/openblas))
# PGVISION_VERSION: what cv_export writes into the files it makes.
PG_CPPFLAGS  = -Isrc/core -Isrc/pg $(if $(OPENBLAS_INC),-I$(OPENBLAS_INC)) -DPGVISION_VERSION='"$(EXTVERSION)"'
PG_CFLAGS    = -std=gnu11 -Wall -Wno-declaration-after-statement
# tools/test.sh builds with WERROR=1: a warning fails the tests.
ifdef WERROR
PG_CFLAGS   += -Werror
endif
# OpenBLAS linked in statically when its archive is installed (Debian's
# libopenblas*-pthread-dev ships it), with its symbols kept inside
# pgvision.so: the shared libopenblas carries some 14,000 symbolic
# relocations (its per-CPU kernel tables) that the dynamic linker resolves
# by name, through postgres's own symbols first, in every backend that
# loads pgvision: most of LOAD's 20 ms (docs/backbones.md, "The library's
# LOAD").  Linked in, they are relative relocations, resolved without a
# lookup.  OPENBLAS_STATIC=0 links the shared library as before.
OPENBLAS_ARCHIVE = $(if $(filter 0,$(OPENBLAS_STATIC)),,$(firstword $(wildcard \
	/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a \
	/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.a)))
comma := ,
OPENBLAS_LINK = $(if $(OPENBLAS_ARCHIVE),$(OPENBLAS_ARCHIVE) -Wl$(comma)--exclude-libs$(comma)ALL,-lopenblas)
SHLIB_LINK   = -ljpeg -lpng $(OPENBLAS_LINK) -lm -lpthread

EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql

PG_CONFIG ?= pg_config

# pgvision-load, the command-line loader: a libpq client installed into
# PostgreSQL's bindir beside psql.  PGXS builds one of MODULE_big and
# PROGRAM, so the loader is built by the rules below and installed as a
# built script (SCRIPTS_built: made by "all", copied into bindir by
# "install", removed by "uninstall" and "clean").  It is linked with libpq,
# json-c (COCO, Custom Vision), libxml2 (Pascal VOC), libcrypto (SHA-256),
# and the core's image header probe (src/core/image, with libjpeg and
# libpng: a photo's stored size and EXIF orientation, read exactly as the
# server reads them, for boxes given in pixels).
LOADER_DIR    = src/bin/pgvision-load
LOADER_SRCS   = $(sort $(wildcard $(LOADER_DIR)/*.c))
LOADER_OBJS   = $(LOADER_SRCS:.c=.o)
LOADER_HDRS   = $(wildcard $(LOADER_DIR)/*.h)
LOADER_CORE_OBJS = src/core/common/cv_common.o src/core/image/image.o \
	src/core/image/image_jpeg.o src/core/image/image_png.o src/core/image/image_bmp.o \
	src/core/image/exif.o src/core/image/orient.o
SCRIPTS_built = pgvision-load
EXTRA_CLEAN  += $(LOADER_OBJS)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(HEADERS)

LOADER_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra $(if $(WERROR),-Werror) \
	-I$(shell $(PG_CONFIG) --includedir) -Isrc/core $(shell pkg-config --cflags json-c libxml-2.0)
LOADER_LIBS   := -L$(shell $(PG_CONFIG) --libdir) -lpq \
	$(shell pkg-config --libs json-c libxml-2.0) -lcrypto -ljpeg -lpng -lm

# more specific than PGXS's %.o rule, which would add the server's headers
$(LOADER_DIR)/%.o: $(LOADER_DIR)/%.c $(LOADER_HDRS)
	$(CC) $(LOADER_CFLAGS) -c -o $@ $<

pgvision-load: $(LOADER_OBJS) $(LOADER_CORE_OBJS)
	$(CC) $(LOADER_CFLAGS) -o $@ $^ $(LOADER_LIBS)
# the version is compiled in (export.c): rebuild when it changes
src/pg/export.o: pgvision.control

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

unitcheck:
	$(MAKE) -C test/unit check

.PHONY: unitcheck
