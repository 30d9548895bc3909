/* One-line error messages into a caller's buffer.
 *
 * Every parser in takt reports failure as a return code plus a message in a
 * caller-provided `char *err, size_t errlen` (either may be NULL/0: the
 * message is then dropped). This is the one place that formats them.
 * Allocates nothing; the buffer is the caller's.
 */
#ifndef TAKT_BASE_ERRMSG_H
#define TAKT_BASE_ERRMSG_H

#include <stddef.h>

void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
