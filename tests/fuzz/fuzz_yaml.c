/* libFuzzer target for pkg/kube/yaml: any byte string either parses into
 * documents that print as JSON, or fails with a message; never a crash, a
 * leak or unbounded memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *docs = NULL;
	struct kyaml_error err;
	if (kyaml_parse_all((const char *)data, size, &docs, &err) == 0) {
		char *txt = cJSON_PrintUnformatted(docs);
		if (!txt)
			abort();
		free(txt);
		cJSON_Delete(docs);
	} else {
		if (docs != NULL || strlen(err.message) == 0)
			abort();
		char line[320];
		kyaml_error_format(&err, line, sizeof(line));
	}
	return 0;
}
