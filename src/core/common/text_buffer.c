/*
 * text_buffer.c
 *	  The growing text of text_buffer.h.
 */
#include "text_buffer.h"
#include "cv_common.h"

#include <stdio.h>
#include <string.h>

void
cv_text_add(cv_text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap)
	{
		/* doubling keeps a text of many small pieces linear in its length */
		size_t		cap = (t->len + n + 1) * 2 + 64;
		char	   *d = cv_realloc(t->data, cap);

		if (d == NULL)
		{
			t->failed = true;
			return;
		}
		t->data = d;
		t->cap = cap;
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

void
cv_text_str(cv_text *t, const char *s)
{
	cv_text_add(t, s, strlen(s));
}

void
cv_text_json_string(cv_text *t, const char *s)
{
	cv_text_str(t, "\"");
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		char		esc[8];

		if (*p == '"' || *p == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) *p;
			cv_text_add(t, esc, 2);
		}
		else if (*p < 0x20)
		{
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			cv_text_str(t, esc);
		}
		else
			cv_text_add(t, (const char *) p, 1);
	}
	cv_text_str(t, "\"");
}
