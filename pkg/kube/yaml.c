#include "kube/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/xalloc.h"
#include "base/banned.h"

/* Bounds that keep hostile input (alias bombs, deep nesting) from costing
 * unbounded memory or stack: cJSON's own recursion (duplicate, delete,
 * print) follows the depth. */
#define MAX_DEPTH 256
#define MAX_NODES 1000000

struct frame {
	cJSON *node;
	char *anchor;
	char *key; /* the pending key, in a mapping */
	bool has_key;
	cJSON *merged; /* keys that came from a `<<` merge and may be overridden */
};

struct anchor {
	char *name;
	/* An owned copy: the original may be consumed (a key, a merge) or
	 * replaced before the alias is seen. */
	cJSON *node;
};

struct builder {
	struct frame stack[MAX_DEPTH];
	int depth;
	struct anchor *anchors;
	size_t anchors_len, anchors_cap;
	long nodes;
	cJSON *root;
	struct kyaml_error *err;
};

static void set_err(struct kyaml_error *err, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(struct kyaml_error *err, const yaml_mark_t *mark, const char *fmt, ...)
{
	if (!err)
		return;
	err->line = mark ? (int)mark->line + 1 : 0;
	err->column = mark ? (int)mark->column + 1 : 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void kyaml_error_format(const struct kyaml_error *err, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	if (err->line > 0)
		snprintf(out, outlen, "line %d, column %d: %s", err->line, err->column,
			 err->message);
	else
		snprintf(out, outlen, "%s", err->message);
}

static void anchors_reset(struct builder *b)
{
	for (size_t i = 0; i < b->anchors_len; i++) {
		free(b->anchors[i].name);
		cJSON_Delete(b->anchors[i].node);
	}
	b->anchors_len = 0;
}

static cJSON *anchor_find(struct builder *b, const char *name)
{
	/* The latest definition wins: YAML allows redefining an anchor. */
	for (size_t i = b->anchors_len; i-- > 0;)
		if (strcmp(b->anchors[i].name, name) == 0)
			return b->anchors[i].node;
	return NULL;
}

static long count_nodes(const cJSON *n)
{
	long c = 1;
	for (const cJSON *k = n->child; k; k = k->next)
		c += count_nodes(k);
	return c;
}

static int anchor_add(struct builder *b, const char *name, const cJSON *node, const yaml_mark_t *m)
{
	cJSON *copy = cJSON_Duplicate(node, 1);
	/* The copies count against the budget too, or nested anchors would
	 * multiply memory. */
	b->nodes += count_nodes(copy);
	XGROW(b->anchors, b->anchors_cap, b->anchors_len + 1);
	b->anchors[b->anchors_len].name = xstrdup(name);
	b->anchors[b->anchors_len].node = copy;
	b->anchors_len++;
	if (b->nodes > MAX_NODES) {
		set_err(b->err, m, "document too large (more than %d nodes with anchors)",
			MAX_NODES);
		return -1;
	}
	return 0;
}

static bool is_tag(const char *tag, const char *short_name)
{
	static const char prefix[] = "tag:yaml.org,2002:";
	return tag && strncmp(tag, prefix, sizeof(prefix) - 1) == 0 &&
	       strcmp(tag + sizeof(prefix) - 1, short_name) == 0;
}

static bool parse_int(const char *s, double *out)
{
	const char *p = s;
	int sign = 1;
	if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
		base = 8;
		p += 2;
	}
	if (*p == '\0')
		return false;
	for (const char *q = p; *q; q++) {
		bool ok = base == 16 ? ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
					(*q >= 'A' && *q <= 'F'))
				     : (*q >= '0' && *q <= (base == 8 ? '7' : '9'));
		if (!ok)
			return false;
	}
	errno = 0;
	char *end;
	unsigned long long v = strtoull(p, &end, base);
	if (*end != '\0')
		return false;
	/* Past 64 bits: keep it as a (rounded) number, as a JSON parser would. */
	*out = errno == ERANGE ? sign * strtod(p, NULL) : sign * (double)v;
	return true;
}

static bool parse_float(const char *s, double *out)
{
	/* [-+]? ( \.[0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	int digits = 0;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return false;
	char *end;
	*out = strtod(s, &end);
	return *end == '\0';
}

static bool is_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int bool_word(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

static cJSON *scalar_value(struct builder *b, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	double d;
	int bv;

	if (strlen(s) != ev->data.scalar.length) {
		set_err(b->err, &ev->start_mark, "NUL character in scalar");
		return NULL;
	}
	if (is_tag(tag, "str") || is_tag(tag, "binary") || is_tag(tag, "timestamp"))
		return cJSON_CreateString(s);
	if (is_tag(tag, "null"))
		return cJSON_CreateNull();
	if (is_tag(tag, "bool")) {
		if ((bv = bool_word(s)) < 0) {
			set_err(b->err, &ev->start_mark, "invalid !!bool value \"%.64s\"", s);
			return NULL;
		}
		return cJSON_CreateBool(bv);
	}
	if (is_tag(tag, "int")) {
		if (!parse_int(s, &d)) {
			set_err(b->err, &ev->start_mark, "invalid !!int value \"%.64s\"", s);
			return NULL;
		}
		return cJSON_CreateNumber(d);
	}
	if (is_tag(tag, "float")) {
		if (!parse_int(s, &d) && !parse_float(s, &d)) {
			set_err(b->err, &ev->start_mark, "invalid !!float value \"%.64s\"", s);
			return NULL;
		}
		return cJSON_CreateNumber(d);
	}
	/* Quoted, literal and folded scalars are always strings; and so is a
	 * plain scalar with an unknown (application) tag. */
	if (!plain || (tag && strcmp(tag, "!") != 0))
		return cJSON_CreateString(s);
	if (is_null_word(s))
		return cJSON_CreateNull();
	if ((bv = bool_word(s)) >= 0)
		return cJSON_CreateBool(bv);
	if (parse_int(s, &d) || parse_float(s, &d))
		return cJSON_CreateNumber(d);
	/* .inf and .nan stay strings: JSON has no way to carry them. */
	return cJSON_CreateString(s);
}

/* Merges a `<<` value (a mapping, or a sequence of mappings) into obj:
 * keys already present win, and merged keys stay overridable. */
static int merge_into(struct builder *b, struct frame *f, const cJSON *src, const yaml_mark_t *m)
{
	if (cJSON_IsArray(src)) {
		for (const cJSON *e = src->child; e; e = e->next)
			if (merge_into(b, f, e, m) < 0)
				return -1;
		return 0;
	}
	if (!cJSON_IsObject(src)) {
		set_err(b->err, m, "merge key << needs a mapping or a list of mappings");
		return -1;
	}
	for (const cJSON *e = src->child; e; e = e->next) {
		if (cJSON_GetObjectItemCaseSensitive(f->node, e->string))
			continue;
		cJSON *dup = cJSON_Duplicate(e, 1);
		b->nodes += count_nodes(dup);
		cJSON_AddItemToObject(f->node, e->string, dup);
		if (!f->merged)
			f->merged = cJSON_CreateObject();
		cJSON_AddItemToObject(f->merged, e->string, cJSON_CreateTrue());
	}
	if (b->nodes > MAX_NODES) {
		set_err(b->err, m, "document too large (more than %d nodes after aliases)",
			MAX_NODES);
		return -1;
	}
	return 0;
}

/* Attaches a finished node to its parent (or makes it the root). Takes
 * ownership of v in every case. */
static int attach(struct builder *b, cJSON *v, const yaml_mark_t *m)
{
	if (b->depth == 0) {
		cJSON_Delete(b->root);
		b->root = v;
		return 0;
	}
	struct frame *f = &b->stack[b->depth - 1];
	if (cJSON_IsArray(f->node)) {
		cJSON_AddItemToArray(f->node, v);
		return 0;
	}
	if (!f->has_key) {
		/* This is a key. Scalars were given as strings by the caller. */
		if (!cJSON_IsString(v)) {
			cJSON_Delete(v);
			set_err(b->err, m, "mapping keys must be scalars");
			return -1;
		}
		f->key = xstrdup(v->valuestring);
		f->has_key = true;
		cJSON_Delete(v);
		return 0;
	}
	char *key = f->key;
	f->key = NULL;
	f->has_key = false;
	int rc = 0;
	if (strcmp(key, "<<") == 0) {
		rc = merge_into(b, f, v, m);
		cJSON_Delete(v);
	} else if (cJSON_GetObjectItemCaseSensitive(f->node, key)) {
		if (f->merged && cJSON_GetObjectItemCaseSensitive(f->merged, key)) {
			cJSON_DeleteItemFromObjectCaseSensitive(f->merged, key);
			cJSON_ReplaceItemInObjectCaseSensitive(f->node, key, v);
		} else {
			cJSON_Delete(v);
			set_err(b->err, m, "duplicate key \"%.64s\"", key);
			rc = -1;
		}
	} else {
		cJSON_AddItemToObject(f->node, key, v);
	}
	free(key);
	return rc;
}

static bool parent_wants_key(const struct builder *b)
{
	if (b->depth == 0)
		return false;
	const struct frame *f = &b->stack[b->depth - 1];
	return cJSON_IsObject(f->node) && !f->has_key;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
	cJSON *v;
	const yaml_mark_t *m = &ev->start_mark;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (++b->nodes > MAX_NODES) {
			set_err(b->err, m, "document too large (more than %d nodes)", MAX_NODES);
			return -1;
		}
		/* Keys keep their text: `1: x` is the key "1", not a number. */
		if (parent_wants_key(b)) {
			const char *s = (const char *)ev->data.scalar.value;
			if (strlen(s) != ev->data.scalar.length) {
				set_err(b->err, m, "NUL character in key");
				return -1;
			}
			v = cJSON_CreateString(s);
		} else {
			v = scalar_value(b, ev);
			if (!v)
				return -1;
		}
		if (ev->data.scalar.anchor &&
		    anchor_add(b, (const char *)ev->data.scalar.anchor, v, m) < 0) {
			cJSON_Delete(v);
			return -1;
		}
		return attach(b, v, m);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		const yaml_char_t *anchor = ev->type == YAML_SEQUENCE_START_EVENT
						? ev->data.sequence_start.anchor
						: ev->data.mapping_start.anchor;
		if (parent_wants_key(b)) {
			set_err(b->err, m, "mapping keys must be scalars");
			return -1;
		}
		if (b->depth >= MAX_DEPTH) {
			set_err(b->err, m, "nesting deeper than %d levels", MAX_DEPTH);
			return -1;
		}
		if (++b->nodes > MAX_NODES) {
			set_err(b->err, m, "document too large (more than %d nodes)", MAX_NODES);
			return -1;
		}
		struct frame *f = &b->stack[b->depth++];
		memset(f, 0, sizeof(*f));
		f->node = ev->type == YAML_SEQUENCE_START_EVENT ? cJSON_CreateArray()
								: cJSON_CreateObject();
		f->anchor = anchor ? xstrdup((const char *)anchor) : NULL;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame *f = &b->stack[--b->depth];
		v = f->node;
		/* Anchors register when complete, so an alias inside its own
		 * anchor is "unknown" rather than a cycle. */
		int arc = f->anchor ? anchor_add(b, f->anchor, v, m) : 0;
		free(f->anchor);
		free(f->key);
		cJSON_Delete(f->merged);
		memset(f, 0, sizeof(*f));
		if (arc < 0) {
			cJSON_Delete(v);
			return -1;
		}
		return attach(b, v, m);
	}
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		cJSON *target = anchor_find(b, name);
		if (!target) {
			set_err(b->err, m, "unknown anchor \"%.64s\"", name);
			return -1;
		}
		if (parent_wants_key(b) && !cJSON_IsString(target)) {
			/* A scalar anchor holding a number used as a key. */
			char *txt = cJSON_PrintUnformatted(target);
			v = cJSON_CreateString(txt);
			free(txt);
		} else {
			v = cJSON_Duplicate(target, 1);
		}
		b->nodes += count_nodes(v);
		if (b->nodes > MAX_NODES) {
			cJSON_Delete(v);
			set_err(b->err, m, "document too large (more than %d nodes after aliases)",
				MAX_NODES);
			return -1;
		}
		return attach(b, v, m);
	}
	default:
		return 0;
	}
}

static void builder_release(struct builder *b)
{
	while (b->depth > 0) {
		struct frame *f = &b->stack[--b->depth];
		cJSON_Delete(f->node);
		free(f->anchor);
		free(f->key);
		cJSON_Delete(f->merged);
	}
	anchors_reset(b);
	free(b->anchors);
	cJSON_Delete(b->root);
}

int kyaml_parse_all(const char *text, size_t len, cJSON **docs, struct kyaml_error *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct builder *b = xcalloc(1, sizeof(*b));
	cJSON *out = cJSON_CreateArray();
	int rc = -1;

	*docs = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	b->err = err;
	if (!yaml_parser_initialize(&parser))
		takt_bug(__FILE__, __LINE__, "yaml_parser_initialize: out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			const char *what = parser.problem ? parser.problem : "invalid YAML";
			if (parser.context)
				set_err(err, &parser.problem_mark, "%s %s", parser.context, what);
			else
				set_err(err, &parser.problem_mark, "%s", what);
			goto out;
		}
		yaml_event_type_t type = ev.type;
		int erc = on_event(b, &ev);
		if (type == YAML_DOCUMENT_END_EVENT) {
			if (b->root && !cJSON_IsNull(b->root))
				cJSON_AddItemToArray(out, b->root);
			else
				cJSON_Delete(b->root);
			b->root = NULL;
			b->nodes = 0;
			/* Anchors do not cross documents. */
			anchors_reset(b);
		}
		yaml_event_delete(&ev);
		if (erc < 0)
			goto out;
		if (type == YAML_STREAM_END_EVENT)
			break;
	}
	*docs = out;
	out = NULL;
	rc = 0;
out:
	yaml_parser_delete(&parser);
	builder_release(b);
	free(b);
	cJSON_Delete(out);
	return rc;
}

int kyaml_parse_one(const char *text, size_t len, cJSON **doc, struct kyaml_error *err)
{
	cJSON *docs;
	*doc = NULL;
	if (kyaml_parse_all(text, len, &docs, err) < 0)
		return -1;
	int n = cJSON_GetArraySize(docs);
	if (n != 1) {
		if (n == 0)
			set_err(err, NULL, "no document");
		else
			set_err(err, NULL, "expected one document, found %d", n);
		cJSON_Delete(docs);
		return -1;
	}
	*doc = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	return 0;
}
