/* Unit tests for pkg/kube/yaml: YAML streams to cJSON documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/yaml.h"

static cJSON *parse1(const char *s)
{
	cJSON *doc = NULL;
	struct kyaml_error err;
	int rc = kyaml_parse_one(s, strlen(s), &doc, &err);
	if (rc != 0)
		fprintf(stderr, "parse failed: %d:%d %s\n", err.line, err.column, err.message);
	assert_int_equal(rc, 0);
	assert_non_null(doc);
	return doc;
}

static char *compact(const cJSON *j)
{
	return cJSON_PrintUnformatted(j);
}

static void assert_yaml_json(const char *yaml, const char *json)
{
	cJSON *doc = parse1(yaml);
	char *got = compact(doc);
	assert_string_equal(got, json);
	free(got);
	cJSON_Delete(doc);
}

static void test_scalar_types(void **state)
{
	assert_yaml_json("a: 1\nb: -2.5\nc: true\nd: False\ne: null\nf: ~\ng:\nh: hello\n"
			 "i: '1'\nj: \"true\"\nk: 0x1F\nl: 0o17\nm: 1e3\nn: .inf\no: 1.2.3\n"
			 "p: !!str 42\nq: !!int \"7\"\nr: yes\n",
			 "{\"a\":1,\"b\":-2.5,\"c\":true,\"d\":false,\"e\":null,\"f\":null,"
			 "\"g\":null,\"h\":\"hello\",\"i\":\"1\",\"j\":\"true\",\"k\":31,"
			 "\"l\":15,\"m\":1000,\"n\":\".inf\",\"o\":\"1.2.3\",\"p\":\"42\","
			 "\"q\":7,\"r\":\"yes\"}");
}

static void test_nested_and_flow(void **state)
{
	assert_yaml_json("spec:\n  containers:\n  - name: a\n    args: [x, 'y', 3]\n"
			 "  labels: {app: web, tier: \"1\"}\n",
			 "{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[\"x\",\"y\",3]}],"
			 "\"labels\":{\"app\":\"web\",\"tier\":\"1\"}}}");
}

static void test_keys_keep_their_text(void **state)
{
	assert_yaml_json("1: one\ntrue: t\nnull: n\n",
			 "{\"1\":\"one\",\"true\":\"t\",\"null\":\"n\"}");
}

static void test_block_scalars(void **state)
{
	assert_yaml_json("data:\n  table.csv: |\n    2026-01-01,N\n    2026-01-02,Y\n"
			 "  folded: >-\n    a\n    b\n",
			 "{\"data\":{\"table.csv\":\"2026-01-01,N\\n2026-01-02,Y\\n\","
			 "\"folded\":\"a b\"}}");
}

static void test_json_input_parses(void **state)
{
	assert_yaml_json("{\"kind\": \"Pod\", \"n\": [1, 2, {\"x\": null}]}",
			 "{\"kind\":\"Pod\",\"n\":[1,2,{\"x\":null}]}");
}

static void test_multi_document_stream(void **state)
{
	const char *s = "# leading comment\n---\nkind: A\n---\n# empty\n---\nkind: B\n...\n"
			"---\n- 1\n- 2\n";
	cJSON *docs = NULL;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), 0);
	assert_int_equal(cJSON_GetArraySize(docs), 3);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(docs, 0), "kind")->valuestring,
			    "A");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(docs, 1), "kind")->valuestring,
			    "B");
	assert_true(cJSON_IsArray(cJSON_GetArrayItem(docs, 2)));
	cJSON_Delete(docs);

	/* Empty input: an empty list, not an error. */
	assert_int_equal(kyaml_parse_all("", 0, &docs, &err), 0);
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);
}

static void test_parse_one_wants_exactly_one(void **state)
{
	cJSON *doc = (cJSON *)1;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_one("a: 1\n---\nb: 2\n", 14, &doc, &err), -1);
	assert_null(doc);
	assert_string_equal(err.message, "expected one document, found 2");
	assert_int_equal(kyaml_parse_one("# nothing\n", 10, &doc, &err), -1);
	assert_string_equal(err.message, "no document");
}

static void test_syntax_error_has_line_and_column(void **state)
{
	const char *s = "a: 1\nb: [1, 2\nc: 3\n";
	cJSON *docs = (cJSON *)1;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_null(docs);
	assert_true(err.line >= 2);
	assert_true(err.column >= 1);
	assert_true(strlen(err.message) > 0);
	char line[300];
	kyaml_error_format(&err, line, sizeof(line));
	assert_non_null(strstr(line, "line "));

	s = "a: 1\n\tb: 2\n";
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_int_equal(err.line, 2);
}

static void test_duplicate_key_is_an_error(void **state)
{
	const char *s = "metadata:\n  name: a\n  name: b\n";
	cJSON *docs;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_string_equal(err.message, "duplicate key \"name\"");
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 9);
}

static void test_complex_key_is_an_error(void **state)
{
	const char *s = "? [a, b]\n: c\n";
	cJSON *docs;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_string_equal(err.message, "mapping keys must be scalars");
	assert_int_equal(err.line, 1);
}

static void test_anchors_aliases_and_merge(void **state)
{
	assert_yaml_json("base: &b {x: 1, y: 2}\n"
			 "one: *b\n"
			 "two:\n  <<: *b\n  y: 3\n  z: 4\n"
			 "s: &s hello\nt: *s\n",
			 "{\"base\":{\"x\":1,\"y\":2},\"one\":{\"x\":1,\"y\":2},"
			 "\"two\":{\"x\":1,\"y\":3,\"z\":4},\"s\":\"hello\",\"t\":\"hello\"}");
	/* An explicit key before the merge also wins. */
	assert_yaml_json("a: &a {k: 1}\nb:\n  k: 9\n  <<: *a\n",
			 "{\"a\":{\"k\":1},\"b\":{\"k\":9}}");
}

static void test_unknown_and_recursive_alias(void **state)
{
	cJSON *docs;
	struct kyaml_error err;
	const char *s = "a: *nope\n";
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_string_equal(err.message, "unknown anchor \"nope\"");
	s = "a: &x [1, *x]\n";
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_string_equal(err.message, "unknown anchor \"x\"");
}

static void test_alias_bomb_fails_cleanly(void **state)
{
	const char *s = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
			"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
			"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
			"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
			"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
			"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
	cJSON *docs;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_non_null(strstr(err.message, "too large"));
}

static void test_deep_nesting_fails_cleanly(void **state)
{
	char s[2100];
	memset(s, '[', 1000);
	memset(s + 1000, ']', 1000);
	s[2000] = '\0';
	cJSON *docs;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_all(s, strlen(s), &docs, &err), -1);
	assert_non_null(strstr(err.message, "nesting"));
}

static void test_nul_in_scalar_refused(void **state)
{
	const char s[] = "a: \"x\\0y\"\n";
	cJSON *docs;
	struct kyaml_error err;
	assert_int_equal(kyaml_parse_all(s, sizeof(s) - 1, &docs, &err), -1);
	assert_non_null(strstr(err.message, "NUL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalar_types),
	    cmocka_unit_test(test_nested_and_flow),
	    cmocka_unit_test(test_keys_keep_their_text),
	    cmocka_unit_test(test_block_scalars),
	    cmocka_unit_test(test_json_input_parses),
	    cmocka_unit_test(test_multi_document_stream),
	    cmocka_unit_test(test_parse_one_wants_exactly_one),
	    cmocka_unit_test(test_syntax_error_has_line_and_column),
	    cmocka_unit_test(test_duplicate_key_is_an_error),
	    cmocka_unit_test(test_complex_key_is_an_error),
	    cmocka_unit_test(test_anchors_aliases_and_merge),
	    cmocka_unit_test(test_unknown_and_recursive_alias),
	    cmocka_unit_test(test_alias_bomb_fails_cleanly),
	    cmocka_unit_test(test_deep_nesting_fails_cleanly),
	    cmocka_unit_test(test_nul_in_scalar_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
