/* takt's API vocabulary; see names.h. */
#include "controller/names.h"

#include "base/banned.h"

static const char *const FIELD_NAMES[TAKT_ST_COUNT] = {
#define TAKT_X_NAME(e, s) [TAKT_ST_##e] = s,
    TAKT_STATUS_FIELDS(TAKT_X_NAME)
#undef TAKT_X_NAME
};

const char *takt_status_field_name(enum takt_status_field f)
{
	return (unsigned)f < TAKT_ST_COUNT ? FIELD_NAMES[f] : "";
}
