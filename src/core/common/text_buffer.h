/*
 * text_buffer.h
 *	  A growing NUL-terminated text, built piece by piece, with JSON string
 *	  literals: what the exporters write their metadata with (the ONNX
 *	  file's metadata_props values, the TFLite file's metadata object).
 *
 * Allocation goes through cv_realloc; the first failure latches `failed`
 * and every later addition does nothing, so a writer checks once at the
 * end.  A zeroed cv_text is empty and ready; cv_free(t.data) releases it.
 */
#ifndef CV_TEXT_BUFFER_H
#define CV_TEXT_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cv_text
{
	char	   *data;			/* NUL-terminated once anything was added */
	size_t		len;
	size_t		cap;
	bool		failed;
} cv_text;

/* Append n bytes of s. */
void		cv_text_add(cv_text *t, const char *s, size_t n);

/* Append the string s. */
void		cv_text_str(cv_text *t, const char *s);

/*
 * Append s as a JSON string literal (RFC 8259 section 7: in quotes, with
 * the quote and the backslash escaped and every control character below
 * 0x20 as \u00XX).  Other bytes pass through, so UTF-8 stays UTF-8.
 */
void		cv_text_json_string(cv_text *t, const char *s);

#endif							/* CV_TEXT_BUFFER_H */
