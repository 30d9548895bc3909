/* libFuzzer target for pkg/kube/execcred: a plugin's output, parsed for both
 * API versions. Either a credential with a token or a certificate comes
 * back, or an error line; never a crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube/execcred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const apis[] = {"client.authentication.k8s.io/v1",
					   "client.authentication.k8s.io/v1beta1"};
	for (size_t i = 0; i < 2; i++) {
		struct execcred c;
		char err[512];
		err[0] = '\0';
		if (execcred_parse_output((const char *)data, size, apis[i], &c, err,
					  sizeof(err)) == 0) {
			if (!c.token && !(c.cert && c.key))
				abort();
			execcred_release(&c);
		} else if (err[0] == '\0' || c.token || c.cert || c.key) {
			abort();
		}
	}
	return 0;
}
