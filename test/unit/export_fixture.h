/*
 * export_fixture.h
 *	  What the export tests (test_export_onnx.c, test_export_tflite.c)
 *	  share: a 3-tag classifier on a backbone file with head weights from a
 *	  formula, a small two-tag detector on its maps, and a byte search for
 *	  the strings a written file must hold.
 *
 * The test Makefile links each test_*.c with the core and unit.o only, so
 * a test that needs these includes export_fixture.c directly, as with
 * detect_synth.c.
 */
#ifndef EXPORT_FIXTURE_H
#define EXPORT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detect_backbone.h"
#include "detect/detector.h"
#include "learn/features.h"
#include "learn/head.h"
#include "model/model.h"
#include "nn/nn.h"

/* The formula's constants: each test wants its own spread of probabilities. */
typedef struct export_fixture_head
{
	const char *tags[3];
	float		mean_step;		/* mean[j] = mean_step * (j % 7) (/ dim when mean_per_dim) */
	bool		mean_per_dim;
	float		weight_step;	/* weights[k][j] = weight_step * ((j * (k + 3)) % 11 - 5) */
	int			weighted_tags;	/* the first this many tags get weights, the rest 0 */
	float		bias[3];
	bool		negative;		/* tag 2 is a negative tag (multilabel only) */
} export_fixture_head;

/*
 * A classifier of task on the network in file (named "tiny", content hash
 * 1, 2, 3, ...) on engine, with the head's norm CV_NORM_POWER_L2 and the
 * weights of *shape; the extractor is returned in *fx_out.  NULL (with a
 * failed CHECK) when the network does not load.
 */
cv_model   *export_fixture_classifier(const uint8_t *file, size_t len, cv_task task,
									  cv_net_engine engine, const export_fixture_head *shape,
									  cv_feature_extractor **fx_out);

/*
 * A detector of 2 tags (hidden 8, every context, weights zero) on the two
 * maps cv_detect_backbone_choose picks in the network in file, run at
 * 160 x 160 on engine; its backbone in *bb_out and its shape in *shape_out.
 * The caller frees both.  NULL (with a failed CHECK) when either fails.
 */
cv_detector *export_fixture_detector(const uint8_t *file, size_t len, cv_net_engine engine,
									 cv_detect_backbone **bb_out, cv_detector_shape *shape_out);

/* Whether needle occurs in the n bytes at hay. */
bool		export_fixture_contains(const uint8_t *hay, size_t n, const char *needle);

#endif							/* EXPORT_FIXTURE_H */
