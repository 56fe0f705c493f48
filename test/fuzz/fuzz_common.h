/*
 * fuzz_common.h
 *	  What every libFuzzer harness of test/fuzz shares: the property checks
 *	  that turn a broken contract of src/core into a crash the fuzzer
 *	  records, and the image checks of the JPEG, PNG and BMP harnesses.
 *
 * A harness feeds hostile bytes to one reader of the core.  AddressSanitizer
 * and UndefinedBehaviorSanitizer catch memory errors and undefined
 * behaviour, LeakSanitizer the allocations an error path forgets; the
 * checks here catch the rest of what the headers promise (an error always
 * has a message, never CV_ERR_INTERNAL, what validation accepts decoding
 * accepts, and so on).  A broken promise calls abort(), which libFuzzer
 * reports as a crash and saves the input of.
 */
#ifndef PGV_FUZZ_COMMON_H
#define PGV_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "common/cv_common.h"
#include "image/image_internal.h"
#include "nn/nn.h"

/*
 * Pixel cap for the image harnesses: large enough for every seed, small
 * enough that a header declaring a huge image costs the fuzzer a cheap
 * CV_ERR_LIMIT rather than a 12 GB allocation (the binding has a cap too).
 */
#define FUZZ_MAX_PIXELS ((uint64_t) 1 << 22)

#define FUZZ_ASSERT(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: broken contract: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/*
 * A status the core returned, with its error record: a failure must carry
 * its own code and a message, and never be CV_ERR_INTERNAL (a bug by
 * cv_common.h's definition).
 */
void		fuzz_check_status(cv_status st, const cv_error *err);

/* The three entry points of image_internal.h for one format. */
void		fuzz_image(cv_image_format format, const uint8_t *data, size_t len);

/*
 * A network that loaded: its activations listed, and, when it is small
 * enough to run in a fraction of a millisecond (a hand-made tiny file or a
 * mutation of one), run once on a grey image with every output copied
 * out, so that the shapes build_ops.c inferred are the shapes the kernels get.
 */
void		fuzz_net(const cv_net *net);

/* CRC-32 as docs/model-format.md defines it (zlib's), for repairing model bytes. */
uint32_t	fuzz_crc32(const uint8_t *p, size_t len);

/* v as n little-endian bytes at p. */
void		fuzz_put_le(uint8_t *p, uint64_t v, int n);

#endif							/* PGV_FUZZ_COMMON_H */
