/* libFuzzer target for pkg/kube/config: kubeconfig text from the fuzzer,
 * loaded with its current-context and with a fixed context name. Either a
 * config with a server comes back, or an error line; never a crash or leak.
 * Relative file paths resolve under a directory that does not exist, so the
 * target reads no real files. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/config.h"
#include "kube/execcred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const contexts[] = {NULL, "dev"};
	/* The input names commands: none of them may run. */
	execcred_forbid_runs();
	for (size_t i = 0; i < 2; i++) {
		struct kube_config *c = NULL;
		char err[512];
		err[0] = '\0';
		int rc = kube_config_load_text((const char *)data, size,
					       "/nonexistent-fuzz-dir/kubeconfig", contexts[i], &c,
					       err, sizeof(err));
		if (rc == 0) {
			size_t len;
			if (!c || strncmp(kube_config_server(c), "http", 4) != 0)
				abort();
			(void)kube_config_ca(c, &len);
			(void)kube_config_token(c);
			(void)kube_config_namespace(c);
			kube_config_free(c);
		} else if (c != NULL || err[0] == '\0') {
			abort();
		}
	}
	return 0;
}
