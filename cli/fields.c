/* fields.c - a reply's members as the commands print them, and replies verbatim */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"

int print_json(const char *text)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	_cleanup_free_ char *pretty = NULL;

	root = json_loads(text, 0, NULL);
	if (root)
		pretty = json_dumps(root, JSON_INDENT(2));
	/* The library checked the reply; fall back to it verbatim all the same. */
	puts(pretty ? pretty : text);
	return EXIT_SUCCESS;
}

const char *str_or_dash(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && *s ? s : "-";
}
