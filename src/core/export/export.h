/*
 * export.h
 *	  A trained iteration as a file that runs outside the database: ONNX
 *	  (onnx_export.c) or TFLite (tflite_export.c), with the
 *	  exact pixels it takes (cv_export_input_pixels).
 *
 * The exported graph holds the backbone (every operator pgvision runs, with
 * the weights as pgvision dequantized them and the clamps its quantized
 * activations imply, nn.h), the pixel normalisation in front of it, and
 * the head behind it:
 *	 classification: input "pixels" float32 [1, H, W, 3] (RGB, 0..255, rows
 *		top to bottom, what cv_export_input_pixels gives), output
 *		"probabilities" float32 [1, n_tags] in tag order (softmax for
 *		multiclass; sigmoids for multilabel, a negative tag's probability
 *		being prod(1 - p) over the others);
 *	 detection: the same input, outputs "boxes" float32 [cells, 4] (left,
 *		top, width, height as fractions of the image, not yet clipped) and
 *		"scores" float32 [cells, n_tags] (calibrated probabilities).  The
 *		post-processing cv_detect applies after them (threshold, per-tag
 *		non-maximum suppression, clipping, cap) is documented in
 *		docs/export.md and done by docs/examples/run-onnx.js.
 * Metadata (tags, input size, normalisation, threshold, version, iteration)
 * travels in the file: docs/export.md lists the keys.
 */
#ifndef CV_EXPORT_EXPORT_H
#define CV_EXPORT_EXPORT_H

#include "../common/cv_common.h"
#include "../image/image.h"
#include "../model/model.h"

/* What the host knows about the iteration and writes into the metadata. */
typedef struct cv_export_meta
{
	int64_t		iteration;		/* cv_iterations.id */
	const char *project;		/* project name */
	const char *version;		/* pgvision version, e.g. "0.1.0" */
	double		nms_overlap;	/* detection: pgvision.nms_overlap */
} cv_export_meta;

/*
 * The ONNX bytes (cv_malloc'd) of model, whose backbone is the TFLite file
 * backbone[0..len) (the domain's weights, read only during the call).
 * CV_ERR_UNSUPPORTED for a model the export cannot represent faithfully
 * (the compact domain, a head that averages several views), named in the
 * message; the errors of cv_net_load_with for the backbone.
 */
cv_status	cv_export_onnx(const cv_model *model, const uint8_t *backbone, size_t len,
						   const cv_export_meta *meta, uint8_t **out, size_t *out_len,
						   cv_error *err);

/*
 * The TFLite bytes (cv_malloc'd) of a model.  A detector of the float
 * engine: the float network to its two maps and the head, output
 * "outputs" float32 [1, cells * (tags + 5)], the raw outputs of one view
 * (the runner does the mirroring and decoding, docs/export.md); one of
 * the int8 engine is CV_ERR_UNSUPPORTED.  A classification model: the backbone
 * file's own operators and quantized weights up to the model's feature
 * tensor, then the head in float operators (tflite_head.c says which),
 * with the metadata in Model.metadata "pgvision" (docs/export.md).  Its
 * input is the backbone's input tensor (for the shared uint8 networks the
 * pixel bytes of cv_export_input_pixels), its output "probabilities"
 * float32 [1, n_tags] as for ONNX.  CV_ERR_UNSUPPORTED, named, for what it
 * cannot hold faithfully: the compact domain, several views,
 * features that are float or may be negative; the errors of
 * cv_net_load_with and tfl_parse for the backbone.
 */
cv_status	cv_export_tflite(const cv_model *model, const uint8_t *backbone, size_t len,
							 const cv_export_meta *meta, uint8_t **out, size_t *out_len,
							 cv_error *err);

/*
 * The pixels the exported model (and cv_predict / cv_detect) sees for a
 * decoded, upright image: classification on a backbone domain renders view
 * 0 with fx (the centred square, augment.h) at the model's input size;
 * detection stretches the whole image to the detector's input size
 * (cv_detect_render_view, view 0).  fx is the model's extractor and is
 * ignored for detection (may be NULL then).  out->pixels is cv_malloc'd.
 */
cv_status	cv_export_input_pixels(const cv_model *model, const cv_feature_extractor *fx,
								   const cv_rgb_image *img, cv_rgb_image *out,
								   cv_error *err);

#endif							/* CV_EXPORT_EXPORT_H */
