#include "kube/obj.h"

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
