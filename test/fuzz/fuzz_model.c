/*
 * fuzz_model.c
 *	  libFuzzer harness of the cv_model reader (cv_model_parse,
 *	  model_format.c): each input is the bytes of a stored iteration, as
 *	  cv_model_recv and a corrupted table would hand them over.
 *
 * The header carries the total length and a CRC-32 of the body, so almost
 * every mutation would stop at the checksum.  Each input is therefore
 * parsed twice: as it is, and with its length and checksum fields made to
 * agree with its bytes, which lets the fuzzer reach every count, string
 * and array of the body.  What parses must then be usable: serialised
 * again it gives the same bytes (format versions 3 and 4; older versions
 * are rewritten as 3), and its head or detector predicts on zero features.
 * Seeds: test/fuzz/seed/model (make_seeds.c: both classification tasks,
 * detection, format versions 1 and 2, and 4 with a carried file).
 */
#include "fuzz_common.h"
#include "model/model.h"

#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Predict once with what was parsed: zero features, or zero maps. */
static void
use_model(const cv_model *m)
{
	cv_error	err;
	cv_status	st;

	if (m->head != NULL)
	{
		float	   *features = calloc((size_t) m->head->dim, sizeof(float));
		float	   *probs = malloc(sizeof(float) * m->head->n_tags);

		FUZZ_ASSERT(m->detector == NULL);
		FUZZ_ASSERT(m->head->n_tags == m->n_tags);
		FUZZ_ASSERT(features != NULL && probs != NULL);
		st = cv_head_predict(m->head, features, 1, probs, &err);
		fuzz_check_status(st, &err);
		free(features);
		free(probs);
	}
	else
	{
		cv_detector_shape shape;
		size_t		nmaps;

		FUZZ_ASSERT(m->detector != NULL && m->task == CV_TASK_DETECTION);
		FUZZ_ASSERT(m->detector->n_tags == m->n_tags);
		cv_detector_get_shape(m->detector, &shape);
		nmaps = cv_detector_map_floats(&shape);
		/* bounded by the caps of the format; skip the costly ones */
		if (nmaps <= ((size_t) 1 << 20) &&
			(size_t) cv_detector_cells(&shape) * m->detector->in_dim *
			m->detector->hidden <= ((size_t) 1 << 24))
		{
			float	   *maps = calloc(nmaps, sizeof(float));
			cv_detection *dets = NULL;
			int			n = 0;

			FUZZ_ASSERT(maps != NULL);
			st = cv_detector_detect(m->detector, maps, maps, 0.0f, 0.5, 10, &dets, &n, &err);
			fuzz_check_status(st, &err);
			FUZZ_ASSERT(n >= 0 && n <= 10);
			cv_free(dets);
			free(maps);
		}
	}
}

static void
parse_one(const uint8_t *data, size_t len)
{
	cv_model   *m = NULL;
	uint8_t    *again = NULL;
	size_t		again_len = 0;
	cv_error	err;
	cv_status	st;

	st = cv_model_parse(data, len, &m, &err);
	fuzz_check_status(st, &err);
	FUZZ_ASSERT((st == CV_OK) == (m != NULL));
	if (m == NULL)
		return;
	FUZZ_ASSERT(m->n_tags > 0 && m->tag_names != NULL);
	for (int k = 0; k < m->n_tags; k++)
		FUZZ_ASSERT(m->tag_names[k] != NULL && m->tag_names[k][0] != '\0');
	use_model(m);

	st = cv_model_serialize(m, &again, &again_len, &err);
	fuzz_check_status(st, &err);
	if (st == CV_OK)
	{
		uint32_t	version = data[8] | (uint32_t) data[9] << 8 |
			(uint32_t) data[10] << 16 | (uint32_t) data[11] << 24;

		/* the same model, the same bytes (version 4 carries a backbone file) */
		if (version == CV_MODEL_FORMAT_VERSION || version == CV_MODEL_FORMAT_VERSION_EMBEDDED)
			FUZZ_ASSERT(again_len == len && memcmp(again, data, len) == 0);
		cv_free(again);
	}
	cv_model_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t    *fixed;

	parse_one(data, len);
	if (len < CV_MODEL_HEADER_SIZE)
		return 0;
	fixed = malloc(len);
	FUZZ_ASSERT(fixed != NULL);
	memcpy(fixed, data, len);
	fuzz_put_le(fixed + 16, len, 8);
	fuzz_put_le(fixed + 24, fuzz_crc32(fixed + CV_MODEL_HEADER_SIZE, len - CV_MODEL_HEADER_SIZE), 4);
	if (memcmp(fixed, data, len) != 0)
		parse_one(fixed, len);
	free(fixed);
	return 0;
}
