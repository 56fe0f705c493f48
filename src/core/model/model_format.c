/*
 * model_format.c
 *	  cv_model to bytes and back (layout: docs/model-format.md).
 *
 * Writing goes through a size-computing pass and a filling pass over the
 * same field list, so the declared length is always exact.  Reading goes
 * through a cursor that checks the remaining length before every field and
 * every array, so hostile bytes never make it read past the end or
 * allocate more than the bytes could hold.
 */
#include "model.h"
#include "../learn/augment.h"

#include <math.h>
#include <string.h>

#define FLAG_NEGATIVE 1u

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), as zlib's crc32(). */
static uint32_t
crc32_bytes(const uint8_t *p, size_t len)
{
	uint32_t	table[256];
	uint32_t	crc = 0xFFFFFFFFu;

	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t	c = i;

		for (int b = 0; b < 8; b++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

/* ---- writing ---- */

typedef struct writer
{
	uint8_t    *buf;			/* NULL in the sizing pass */
	size_t		pos;
} writer;

static void
put_bytes(writer *w, const void *src, size_t n)
{
	if (w->buf != NULL)
		memcpy(w->buf + w->pos, src, n);
	w->pos += n;
}

static void
put_u32(writer *w, uint32_t v)
{
	uint8_t		b[4] = {v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, (v >> 24) & 0xFF};

	put_bytes(w, b, 4);
}

static void
put_u64(writer *w, uint64_t v)
{
	put_u32(w, (uint32_t) v);
	put_u32(w, (uint32_t) (v >> 32));
}

static void
put_f32(writer *w, float f)
{
	uint32_t	v;

	memcpy(&v, &f, 4);
	put_u32(w, v);
}

static void
put_f32s(writer *w, const float *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_f32(w, f[i]);
}

static void
put_string(writer *w, const char *s)
{
	size_t		len = strlen(s);

	put_u32(w, (uint32_t) len);
	put_bytes(w, s, len);
}

/* The detection body after the input size (docs/model-format.md). */
static void
put_detector(writer *w, const cv_model *m)
{
	const cv_detector *d = m->detector;
	int			od = cv_detector_out_dim(d->n_tags);

	put_f32(w, m->threshold);
	put_u32(w, (uint32_t) d->n_tags);
	for (int k = 0; k < d->n_tags; k++)
	{
		put_u32(w, 0);
		put_string(w, m->tag_names[k]);
	}
	for (int k = 0; k < CV_DETECT_MAPS; k++)
	{
		put_u32(w, (uint32_t) d->map_tensor[k]);
		put_u32(w, (uint32_t) d->map_height[k]);
		put_u32(w, (uint32_t) d->map_width[k]);
		put_u32(w, (uint32_t) d->map_channels[k]);
	}
	put_u32(w, (uint32_t) d->hidden);
	put_u32(w, d->context);
	put_f32(w, d->calib_a);
	put_f32(w, d->calib_b);
	put_f32s(w, d->mean, (size_t) d->in_dim);
	put_f32s(w, d->scale, (size_t) d->in_dim);
	put_f32s(w, d->w1, (size_t) d->in_dim * d->hidden);
	put_f32s(w, d->b1, (size_t) d->hidden);
	put_f32s(w, d->w2, (size_t) d->hidden * od);
	put_f32s(w, d->b2, (size_t) od);
}

/* Everything after the header (version 4 starts with the backbone file). */
static void
put_body(writer *w, const cv_model *m)
{
	const cv_head *h = m->head;

	if (m->backbone != NULL)
	{
		put_u64(w, (uint64_t) m->backbone_len);
		put_bytes(w, m->backbone, m->backbone_len);
	}
	put_u32(w, (uint32_t) m->task);
	put_string(w, m->domain);
	put_bytes(w, m->domain_hash, 32);
	put_u32(w, m->extractor_version);
	put_u32(w, (uint32_t) m->input_width);
	put_u32(w, (uint32_t) m->input_height);
	if (m->task == CV_TASK_DETECTION)
	{
		put_detector(w, m);
		return;
	}
	put_u32(w, (uint32_t) h->dim);
	put_u32(w, (uint32_t) h->predict_views);
	put_u32(w, (uint32_t) h->norm);
	put_f32(w, m->threshold);
	put_f32(w, h->lambda);
	put_u32(w, (uint32_t) h->n_tags);
	for (int k = 0; k < h->n_tags; k++)
	{
		put_u32(w, h->negative[k] ? FLAG_NEGATIVE : 0);
		put_string(w, m->tag_names[k]);
	}
	put_f32s(w, h->mean, (size_t) h->dim);
	put_f32s(w, h->scale, (size_t) h->dim);
	put_f32s(w, h->weights, (size_t) h->n_tags * h->dim);
	put_f32s(w, h->bias, (size_t) h->n_tags);
}

cv_status
cv_model_serialize(const cv_model *m, uint8_t **bytes, size_t *len,
				   cv_error *err)
{
	writer		w = {NULL, CV_MODEL_HEADER_SIZE};
	size_t		total;
	uint8_t    *buf;

	*bytes = NULL;
	*len = 0;
	if (m == NULL || m->tag_names == NULL ||
		(m->task == CV_TASK_DETECTION ? m->detector == NULL : m->head == NULL))
		return cv_fail(err, CV_ERR_PARAM, "invalid model");
	if (m->backbone != NULL)
	{
		static const uint8_t zero[32];

		if (memcmp(m->domain_hash, zero, 32) == 0)
			return cv_fail(err, CV_ERR_PARAM, "a model of the compact domain carries no backbone file");
		if (m->backbone_len == 0 || m->backbone_len > CV_MODEL_BACKBONE_MAX)
			return cv_fail(err, CV_ERR_PARAM, "an embedded backbone file must have 1 to %zu bytes",
						   CV_MODEL_BACKBONE_MAX);
	}
	put_body(&w, m);
	total = w.pos;
	buf = cv_malloc(total);
	if (buf == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory serializing a model");
	w.buf = buf;
	w.pos = CV_MODEL_HEADER_SIZE;
	put_body(&w, m);

	w.pos = 0;
	put_bytes(&w, CV_MODEL_MAGIC, 8);	/* includes the NUL */
	put_u32(&w, m->backbone != NULL ? CV_MODEL_FORMAT_VERSION_EMBEDDED : CV_MODEL_FORMAT_VERSION);
	put_u32(&w, CV_MODEL_HEADER_SIZE);
	put_u64(&w, (uint64_t) total);
	put_u32(&w, crc32_bytes(buf + CV_MODEL_HEADER_SIZE, total - CV_MODEL_HEADER_SIZE));
	put_u32(&w, 0);				/* reserved */
	*bytes = buf;
	*len = total;
	return CV_OK;
}

/* ---- reading ---- */

typedef struct reader
{
	const uint8_t *p;
	size_t		len;
	size_t		pos;
	bool		ok;
} reader;

static bool
has(reader *r, size_t n)
{
	if (!r->ok || r->len - r->pos < n)
		r->ok = false;
	return r->ok;
}

static uint32_t
get_u32(reader *r)
{
	const uint8_t *b;

	if (!has(r, 4))
		return 0;
	b = r->p + r->pos;
	r->pos += 4;
	return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

static uint64_t
get_u64(reader *r)
{
	uint64_t	lo = get_u32(r);

	return lo | (uint64_t) get_u32(r) << 32;
}

static float
get_f32(reader *r)
{
	uint32_t	v = get_u32(r);
	float		f;

	memcpy(&f, &v, 4);
	return f;
}

/* n finite floats; false (and r->ok false) when short or not finite */
static bool
get_f32s(reader *r, float *out, size_t n)
{
	if (n > (r->len - r->pos) / 4)
	{
		r->ok = false;
		return false;
	}
	for (size_t i = 0; i < n; i++)
	{
		out[i] = get_f32(r);
		if (!isfinite(out[i]))
			return r->ok = false;
	}
	return r->ok;
}

/*
 * A string of 1..max bytes without NUL, copied to a fresh NUL-terminated
 * buffer (dst NULL) or into dst (capacity max + 1).
 */
static char *
get_string(reader *r, size_t max, char *dst)
{
	uint32_t	n = get_u32(r);
	char	   *s;

	if (!r->ok || n == 0 || n > max || !has(r, n) ||
		memchr(r->p + r->pos, '\0', n) != NULL)
	{
		r->ok = false;
		return NULL;
	}
	s = dst != NULL ? dst : cv_malloc((size_t) n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, r->p + r->pos, n);
	s[n] = '\0';
	r->pos += n;
	return s;
}

static cv_status
corrupt(cv_model *m, cv_error *err, const char *what)
{
	cv_model_free(m);
	return cv_fail(err, CV_ERR_CORRUPT, "model bytes are corrupt: %s", what);
}

/* n tags (flags must be 0 for detection) into m->tag_names. */
static cv_status
parse_tags(reader *r, cv_model *m, uint32_t n, bool *negative, cv_error *err)
{
	m->tag_names = cv_calloc(n, sizeof(char *));
	if (m->tag_names == NULL)
	{
		cv_model_free(m);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory reading a model");
	}
	m->n_tags = (int) n;
	for (uint32_t k = 0; k < n; k++)
	{
		uint32_t	flags = get_u32(r);

		if (!r->ok || (flags & ~(negative != NULL ? FLAG_NEGATIVE : 0u)) != 0)
			return corrupt(m, err, "bad tag flags");
		if (negative != NULL)
			negative[k] = (flags & FLAG_NEGATIVE) != 0;
		m->tag_names[k] = get_string(r, CV_MODEL_TAG_NAME_MAX, NULL);
		if (m->tag_names[k] == NULL)
		{
			if (!r->ok)
				return corrupt(m, err, "bad tag name");
			cv_model_free(m);
			return cv_fail(err, CV_ERR_NOMEM, "out of memory reading a model");
		}
	}
	return CV_OK;
}

/* The detection body, from the threshold on (docs/model-format.md). */
static cv_status
parse_detector(reader *r, cv_model *m, cv_model **out, cv_error *err)
{
	cv_detector_shape s;
	cv_detector *d;
	uint32_t	n_tags;
	float		threshold,
				a,
				b;
	size_t		need;
	int			od;
	cv_status	st;

	memset(&s, 0, sizeof(s));
	threshold = get_f32(r);
	n_tags = get_u32(r);
	if (!r->ok)
		return corrupt(m, err, "truncated");
	if (!(threshold >= 0.0f && threshold <= 1.0f))
		return corrupt(m, err, "bad threshold");
	if (n_tags == 0 || n_tags > CV_DETECT_MAX_TAGS || (size_t) n_tags * 9 > r->len - r->pos)
		return corrupt(m, err, "bad tag count");
	m->threshold = threshold;
	st = parse_tags(r, m, n_tags, NULL, err);
	if (st != CV_OK)
		return st;
	s.n_tags = (int) n_tags;
	s.input_width = m->input_width;
	s.input_height = m->input_height;
	for (int k = 0; k < CV_DETECT_MAPS; k++)
	{
		uint32_t	t = get_u32(r),
					h = get_u32(r),
					w = get_u32(r),
					c = get_u32(r);

		if (t > (1u << 30) || h > CV_DETECT_MAX_GRID || w > CV_DETECT_MAX_GRID ||
			c > CV_DETECT_MAX_CHANNELS)
			return corrupt(m, err, "bad feature map shape");
		s.map_tensor[k] = (int) t;
		s.map_height[k] = (int) h;
		s.map_width[k] = (int) w;
		s.map_channels[k] = (int) c;
	}
	{
		uint32_t	hidden = get_u32(r);

		if (hidden > CV_DETECT_MAX_HIDDEN)
			return corrupt(m, err, "bad hidden width");
		s.hidden = (int) hidden;
		s.context = get_u32(r);
	}
	a = get_f32(r);
	b = get_f32(r);
	if (!r->ok)
		return corrupt(m, err, "truncated");
	if (!(a > 0.0f) || !isfinite(a) || !isfinite(b))
		return corrupt(m, err, "bad calibration");
	if (cv_detector_shape_check(&s, NULL) != CV_OK)
		return corrupt(m, err, "bad detector shape");
	/* caps above keep this well inside size_t */
	od = cv_detector_out_dim(s.n_tags);
	{
		size_t		in_dim = (size_t) cv_detector_in_dim(&s);

		need = (2 * in_dim + in_dim * s.hidden + s.hidden + (size_t) s.hidden * od + od) * 4;
	}
	if (r->len - r->pos != need)
		return corrupt(m, err, "array lengths do not match the counts");
	st = cv_detector_alloc(&s, &d, err);
	if (st != CV_OK)
	{
		cv_model_free(m);
		return st;
	}
	m->detector = d;
	d->calib_a = a;
	d->calib_b = b;
	if (!get_f32s(r, d->mean, (size_t) d->in_dim) ||
		!get_f32s(r, d->scale, (size_t) d->in_dim) ||
		!get_f32s(r, d->w1, (size_t) d->in_dim * d->hidden) ||
		!get_f32s(r, d->b1, (size_t) d->hidden) ||
		!get_f32s(r, d->w2, (size_t) d->hidden * od) ||
		!get_f32s(r, d->b2, (size_t) od))
		return corrupt(m, err, "non-finite weights");
	*out = m;
	return CV_OK;
}

cv_status
cv_model_parse(const uint8_t *bytes, size_t len, cv_model **out, cv_error *err)
{
	reader		r = {bytes, len, 0, true};
	cv_model   *m;
	uint32_t	version,
				header_size,
				crc,
				task,
				dim,
				views,
				norm = CV_NORM_NONE,
				n_tags,
				u;
	uint64_t	total;
	float		threshold,
				lambda;
	size_t		need;

	*out = NULL;
	if (bytes == NULL || len < CV_MODEL_HEADER_SIZE)
		return cv_fail(err, CV_ERR_CORRUPT, "model bytes are corrupt: shorter than the header");
	if (memcmp(bytes, CV_MODEL_MAGIC, 8) != 0)
		return cv_fail(err, CV_ERR_CORRUPT, "model bytes are corrupt: bad magic");
	r.pos = 8;
	version = get_u32(&r);
	header_size = get_u32(&r);
	total = get_u64(&r);
	crc = get_u32(&r);
	u = get_u32(&r);
	if (version != CV_MODEL_FORMAT_VERSION_EMBEDDED && version != CV_MODEL_FORMAT_VERSION &&
		version != 2 && version != 1)
		return cv_fail(err, CV_ERR_UNSUPPORTED, "model format version %u is not supported", version);
	if (header_size != CV_MODEL_HEADER_SIZE || u != 0)
		return cv_fail(err, CV_ERR_CORRUPT, "model bytes are corrupt: bad header");
	if (total != (uint64_t) len)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "model bytes are corrupt: length %zu, header says %llu",
					   len, (unsigned long long) total);
	if (crc32_bytes(bytes + CV_MODEL_HEADER_SIZE, len - CV_MODEL_HEADER_SIZE) != crc)
		return cv_fail(err, CV_ERR_CORRUPT, "model bytes are corrupt: checksum mismatch");

	m = cv_calloc(1, sizeof(*m));
	if (m == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory reading a model");
	if (version == CV_MODEL_FORMAT_VERSION_EMBEDDED)
	{
		uint64_t	blen = get_u64(&r);

		if (!r.ok || blen == 0 || blen > CV_MODEL_BACKBONE_MAX || blen > len - r.pos)
			return corrupt(m, err, "bad embedded backbone length");
		m->backbone = cv_malloc((size_t) blen);
		if (m->backbone == NULL)
		{
			cv_model_free(m);
			return cv_fail(err, CV_ERR_NOMEM, "out of memory reading a model");
		}
		memcpy(m->backbone, bytes + r.pos, (size_t) blen);
		m->backbone_len = (size_t) blen;
		r.pos += (size_t) blen;
	}
	task = get_u32(&r);
	if (task != CV_TASK_MULTICLASS && task != CV_TASK_MULTILABEL &&
		!(task == CV_TASK_DETECTION && version >= 3))
		return corrupt(m, err, "unknown task");
	m->task = (cv_task) task;
	if (get_string(&r, CV_DOMAIN_NAME_MAX, m->domain) == NULL)
		return corrupt(m, err, "bad domain name");
	if (!has(&r, 32))
		return corrupt(m, err, "truncated");
	memcpy(m->domain_hash, bytes + r.pos, 32);
	r.pos += 32;
	if (m->backbone != NULL)
	{
		static const uint8_t zero[32];

		if (memcmp(m->domain_hash, zero, 32) == 0)
			return corrupt(m, err, "a compact model carries no backbone");
	}
	m->extractor_version = get_u32(&r);
	u = get_u32(&r);
	m->input_width = (int) u;
	if (u == 0 || u > 65536)
		return corrupt(m, err, "bad input width");
	u = get_u32(&r);
	m->input_height = (int) u;
	if (u == 0 || u > 65536)
		return corrupt(m, err, "bad input height");
	if (m->task == CV_TASK_DETECTION)
		return parse_detector(&r, m, out, err);
	dim = get_u32(&r);
	views = get_u32(&r);
	if (version >= 2)			/* version 1 had no normalisation */
		norm = get_u32(&r);
	threshold = get_f32(&r);
	lambda = get_f32(&r);
	n_tags = get_u32(&r);
	if (!r.ok)
		return corrupt(m, err, "truncated");
	if (dim == 0 || dim > CV_MAX_DIM)
		return corrupt(m, err, "bad feature dimension");
	if (views == 0 || views > CV_AUGMENT_MAX_VIEWS)
		return corrupt(m, err, "bad view count");
	if (norm != CV_NORM_NONE && norm != CV_NORM_POWER_L2)
		return corrupt(m, err, "unknown feature normalisation");
	if (!(threshold >= 0.0f && threshold <= 1.0f))
		return corrupt(m, err, "bad threshold");
	if (!(lambda >= 0.0f) || !isfinite(lambda))
		return corrupt(m, err, "bad l2 strength");
	if (n_tags == 0 || n_tags > CV_MAX_TAGS)
		return corrupt(m, err, "bad tag count");
	/*
	 * Each tag takes at least 9 bytes, then come the arrays: refuse counts
	 * the remaining bytes cannot hold before allocating anything for them.
	 * (dim <= 2^20 and n_tags <= 2^10, so no overflow.)
	 */
	need = ((size_t) 2 * dim + (size_t) n_tags * dim + n_tags) * 4;
	if ((size_t) n_tags * 9 + need > len - r.pos)
		return corrupt(m, err, "counts larger than the bytes");

	m->threshold = threshold;
	m->head = cv_head_alloc(m->task, (int) n_tags, (int) dim);
	if (m->head == NULL)
	{
		cv_model_free(m);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory reading a model");
	}
	m->head->predict_views = (int) views;
	m->head->norm = (cv_norm) norm;
	m->head->lambda = lambda;
	{
		cv_status	st = parse_tags(&r, m, n_tags, m->head->negative, err);

		if (st != CV_OK)
			return st;
	}

	/* the arrays must fill the rest exactly */
	if (len - r.pos != need)
		return corrupt(m, err, "array lengths do not match the counts");
	if (!get_f32s(&r, m->head->mean, dim) ||
		!get_f32s(&r, m->head->scale, dim) ||
		!get_f32s(&r, m->head->weights, (size_t) n_tags * dim) ||
		!get_f32s(&r, m->head->bias, n_tags))
		return corrupt(m, err, "non-finite weights");
	*out = m;
	return CV_OK;
}
