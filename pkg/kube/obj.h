/* Read-only accessors for Kubernetes objects held as cJSON trees.
 *
 * Each returns NULL when any step of the path is missing or of the wrong type,
 * so callers chain them without checks. Every returned pointer is borrowed
 * from `obj` and valid as long as it is (for store objects: until the next
 * loop turn, see store.h).
 */
#ifndef TAKT_KUBE_OBJ_H
#define TAKT_KUBE_OBJ_H

#include <stdbool.h>

#include <cjson/cJSON.h>

/* obj[key] when obj is an object. */
const cJSON *kobj_get(const cJSON *obj, const char *key);
/* obj[key] when it is a string. */
const char *kobj_str(const cJSON *obj, const char *key);
/* obj.metadata[key], a string (name, namespace, uid, resourceVersion...). */
const char *kobj_meta(const cJSON *obj, const char *key);
/* obj.metadata.labels[key] / obj.metadata.annotations[key]. */
const char *kobj_label(const cJSON *obj, const char *key);
const char *kobj_annotation(const cJSON *obj, const char *key);

/* ---- What the Job and Pod APIs mean (the controller and the kill path
 * read them alike) ---- */

/* A pod counts until it is gone: not ended (Succeeded/Failed), or being
 * deleted. */
bool kobj_pod_present(const cJSON *pod);
/* A Job with a Complete or Failed condition that is True. */
bool kobj_job_finished(const cJSON *job);
/* The controller ownerReference of obj of that kind, its uid; or NULL. */
const char *kobj_controller_uid(const cJSON *obj, const char *kind);

#endif
