/*
 * json_text.c
 *	  Parse JSON held in memory the way json_object_from_file parses a file.
 *
 * The COCO and Custom Vision readers take a path and let json-c read the
 * file; their *_text entries (the fuzz harnesses of test/fuzz use them)
 * take the bytes instead.  json_object_from_file reads the whole file and
 * hands it to one json_tokener_parse_ex call with the default nesting
 * limit (JSON_TOKENER_DEFAULT_DEPTH, json-c's json_util.c); doing the same
 * here means both entries accept exactly the same documents.
 */
#include "load.h"

#include <limits.h>

#include <json-c/json.h>

struct json_object *
json_from_text(const char *text, size_t len, const char **why)
{
	json_tokener *tok;
	json_object *root;

	/* json_tokener_parse_ex takes an int length */
	if (len > INT_MAX)
	{
		*why = "too large for a JSON document";
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL)
		fatal("out of memory");
	root = json_tokener_parse_ex(tok, text, (int) len);
	if (root == NULL)
	{
		enum json_tokener_error e = json_tokener_get_error(tok);

		/* an incomplete document leaves the tokener waiting for more */
		*why = e == json_tokener_continue ? "the JSON ends too early" : json_tokener_error_desc(e);
	}
	json_tokener_free(tok);
	return root;
}
