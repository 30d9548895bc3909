/* YAML to cJSON, for kubeconfig files and CLI manifests (libyaml underneath).
 *
 * Scalars follow the YAML 1.2 core schema as Kubernetes reads them: plain
 * `null`, `~` and the empty scalar are null; `true`/`false` (any case of the
 * first letter, or all caps) are booleans; decimal, 0x and 0o integers and
 * floats are numbers (.inf and .nan stay strings: JSON cannot carry them); everything else, and
 * every quoted scalar, is a string. Tags !!str, !!int, !!float, !!bool, !!null are honoured.
 * Mapping keys must be scalars and are kept as strings; a duplicate key is an error (as in
 * kubectl). Aliases are expanded, with a cap on the total number of nodes so "billion laughs" input
 * fails cleanly. Merge keys (`<<`) are merged. A JSON document is valid YAML, so JSON manifests
 * parse too.
 *
 * Ownership: every cJSON tree returned belongs to the caller (cJSON_Delete).
 * Input is borrowed and need not be NUL-terminated.
 */
#ifndef TAKT_KUBE_YAML_H
#define TAKT_KUBE_YAML_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Where and why parsing failed. line and column are 1-based (0 if unknown). */
struct kyaml_error {
	int line;
	int column;
	char message[256];
};

/* Parses every document of a stream into a cJSON array, one element per
 * document, in order. Documents that are empty (only comments, or a bare
 * `---`) are skipped, as kubectl does, so an empty input gives an empty array.
 * Returns 0 with *docs set, or -1 with err filled and *docs NULL. */
int kyaml_parse_all(const char *text, size_t len, cJSON **docs, struct kyaml_error *err);

/* Parses a stream that must hold exactly one non-empty document (a
 * kubeconfig). Returns 0 with *doc set, or -1 with err filled ("no document",
 * "expected one document, found 2", or the parser's error). */
int kyaml_parse_one(const char *text, size_t len, cJSON **doc, struct kyaml_error *err);

/* Formats err as "line L, column C: message" into out (always terminated). */
void kyaml_error_format(const struct kyaml_error *err, char *out, size_t outlen);

#endif
