/*
 * JSON text the way Go's encoding/json writes it, from a jansson tree.
 * SPIRE's CLI prints -output json through encoding/json (after
 * protojson), and its SPIFFE bundle documents through json.Indent, so
 * matching its bytes means matching Go's escaping, number format,
 * separators and indentation, which jansson's own dumper does not.
 */
#ifndef CLI_GOJSON_H
#define CLI_GOJSON_H

#include <jansson.h>

#define GOJSON_SORT_KEYS	0x1	/* object keys in byte order, as a Go
					 * map[string]any marshals them */
#define GOJSON_INDENT		0x2	/* json.Indent(dst, src, "", "    ") */
#define GOJSON_HTML_SAFE	0x4	/* <, > and & as \u003c..., as
					 * json.Marshal escapes them */

/*
 * The text of the tree (borrowed, not changed), with the flags above
 * and no final newline; objects keep their insertion order unless
 * sorted. A new NUL-terminated string (mem_free), or NULL when memory
 * ran out, the text would pass CLI_JSON_MAX or a real is not finite.
 */
char	*gojson_dumps(json_t *, unsigned flags);

/*
 * A float64 as Go's encoding/json (and protojson) print one: the
 * shortest decimal that reads back the same, in plain notation for
 * magnitudes in [1e-6, 1e21) and exponent notation ("1e+21", "1e-7")
 * outside. Writes at most size bytes with the NUL; -1 when it does not
 * fit or v is not finite.
 */
int	 gojson_format_float(double v, char *buf, size_t size);

#endif
