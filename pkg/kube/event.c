/* core/v1 Events; see event.h. */
#include "kube/event.h"

#include <cjson/cJSON.h>

#include <stdlib.h>

#include "base/banned.h"

static char *print(cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!s)
		abort(); /* cJSON allocates with malloc: out of memory */
	return s;
}

char *kube_event_body(const struct kube_event *e)
{
	const char *ts = e->now;
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "apiVersion", "v1");
	cJSON_AddStringToObject(ev, "kind", "Event");
	cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
	cJSON_AddStringToObject(md, "name", e->event_name);
	cJSON_AddStringToObject(md, "namespace", e->ns);
	cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
	cJSON_AddStringToObject(io, "apiVersion", e->api_version);
	cJSON_AddStringToObject(io, "kind", e->kind);
	cJSON_AddStringToObject(io, "namespace", e->ns);
	cJSON_AddStringToObject(io, "name", e->name);
	if (e->uid)
		cJSON_AddStringToObject(io, "uid", e->uid);
	cJSON_AddStringToObject(ev, "reason", e->reason);
	cJSON_AddStringToObject(ev, "message", e->message);
	cJSON_AddStringToObject(ev, "type", e->warning ? "Warning" : "Normal");
	cJSON_AddNumberToObject(ev, "count", (double)(e->count < 1 ? 1 : e->count));
	cJSON_AddStringToObject(ev, "firstTimestamp", ts);
	cJSON_AddStringToObject(ev, "lastTimestamp", ts);
	cJSON *src = cJSON_AddObjectToObject(ev, "source");
	cJSON_AddStringToObject(src, "component", e->component);
	cJSON_AddStringToObject(ev, "reportingComponent", e->component);
	cJSON_AddStringToObject(ev, "reportingInstance", e->instance);
	return print(ev);
}

char *kube_event_update_body(int64_t count, const char *message, const char *now)
{
	const char *ts = now;
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddNumberToObject(ev, "count", (double)count);
	cJSON_AddStringToObject(ev, "lastTimestamp", ts);
	cJSON_AddStringToObject(ev, "message", message);
	return print(ev);
}
