#include "kube/obj.h"

#include <string.h>

#include "base/banned.h"

const cJSON *kobj_get(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

const char *kobj_str(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(kobj_get(obj, key));
}

const char *kobj_meta(const cJSON *obj, const char *key)
{
	return kobj_str(kobj_get(obj, "metadata"), key);
}

const char *kobj_label(const cJSON *obj, const char *key)
{
	return kobj_str(kobj_get(kobj_get(obj, "metadata"), "labels"), key);
}

const char *kobj_annotation(const cJSON *obj, const char *key)
{
	return kobj_str(kobj_get(kobj_get(obj, "metadata"), "annotations"), key);
}

static bool str_is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

bool kobj_pod_present(const cJSON *pod)
{
	if (kobj_meta(pod, "deletionTimestamp"))
		return true;
	const char *phase = kobj_str(kobj_get(pod, "status"), "phase");
	return !str_is(phase, "Succeeded") && !str_is(phase, "Failed");
}

bool kobj_job_finished(const cJSON *job)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, kobj_get(kobj_get(job, "status"), "conditions"))
	{
		const char *type = kobj_str(it, "type");
		if (str_is(kobj_str(it, "status"), "True") &&
		    (str_is(type, "Complete") || str_is(type, "Failed")))
			return true;
	}
	return false;
}

const char *kobj_controller_uid(const cJSON *obj, const char *kind)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, kobj_get(kobj_get(obj, "metadata"), "ownerReferences"))
	{
		if (cJSON_IsTrue(kobj_get(it, "controller")) && str_is(kobj_str(it, "kind"), kind))
			return kobj_str(it, "uid");
	}
	return NULL;
}
