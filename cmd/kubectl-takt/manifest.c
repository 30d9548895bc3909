/* Manifests for the offline commands; see manifest.h. */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/xalloc.h"
#include "calendar/calendar.h"
#include "kube/yaml.h"
#include "base/errmsg.h"
#include "base/banned.h"

/* Sets the message and yields -EINVAL, so a failure is one statement. */
#define seterr(err, errlen, ...) (errmsg_set((err), (errlen), __VA_ARGS__), -EINVAL)

int manifest_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		errmsg_set(err, errlen, "cannot read %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    (unsigned long long)st.st_size > MANIFEST_FILE_MAX) {
		fclose(f);
		errmsg_set(err, errlen, "%s is %lld bytes; at most %u", path, (long long)st.st_size,
			   MANIFEST_FILE_MAX);
		return -EFBIG;
	}
	/* Read in chunks rather than trusting st_size: a pipe or a file being
	 * rewritten has no reliable size. */
	size_t cap = 0, n = 0;
	char *data = NULL;
	for (;;) {
		if (n + 1 >= cap)
			xgrow((void **)&data, &cap, n + 65536, 1);
		size_t got = fread(data + n, 1, cap - n - 1, f);
		n += got;
		if (n > MANIFEST_FILE_MAX) {
			free(data);
			fclose(f);
			errmsg_set(err, errlen, "%s is larger than %u bytes", path,
				   MANIFEST_FILE_MAX);
			return -EFBIG;
		}
		if (got == 0)
			break;
	}
	bool failed = ferror(f);
	fclose(f);
	if (failed) {
		free(data);
		errmsg_set(err, errlen, "cannot read %s", path);
		return -EIO;
	}
	data[n] = 0;
	*text = data;
	*len = n;
	return 0;
}

int manifest_load(const char *path, cJSON **docs, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc = manifest_read_file(path, &text, &len, err, errlen);
	if (rc < 0)
		return rc;
	struct kyaml_error ye;
	rc = kyaml_parse_all(text, len, docs, &ye);
	free(text);
	if (rc < 0) {
		kyaml_error_format(&ye, err, errlen);
		return -EINVAL;
	}
	return 0;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
	if (b)
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, b) : NULL;
	return cJSON_GetStringValue(v);
}

const cJSON *manifest_find(const cJSON *docs, const char *kind, const char *name, char *err,
			   size_t errlen)
{
	const cJSON *d, *found = NULL;
	int n = 0, nkind = 0;
	char names[160] = ""; /* of that kind, for the message */
	size_t used = 0;
	cJSON_ArrayForEach(d, docs)
	{
		const char *k = str_at(d, "kind", NULL);
		if (!k || strcmp(k, kind))
			continue;
		const char *nm = str_at(d, "metadata", "name");
		nkind++;
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s\"%s\"",
						 used ? ", " : "", nm ? nm : "");
		if (name && (!nm || strcmp(nm, name)))
			continue;
		if (!found)
			found = d;
		n++;
	}
	if (n == 1)
		return found;
	if (n > 1)
		errmsg_set(err, errlen, "%d %ss%s%s in it (%s)", n, kind, name ? " named " : "",
			   name ? name : "", names);
	else if (name && nkind)
		errmsg_set(err, errlen, "no %s named \"%s\" in it (it holds %s)", kind, name,
			   names);
	else
		errmsg_set(err, errlen, "no %s in it", kind);
	return NULL;
}

/* The ConfigMap ns/name among docs: a document without a namespace
 * matches any (kubectl would put it in the current namespace). */
static const cJSON *find_configmap(const cJSON *docs, const char *ns, const char *name)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, docs)
	{
		const char *k = str_at(d, "kind", NULL), *nm = str_at(d, "metadata", "name"),
			   *dns = str_at(d, "metadata", "namespace");
		if (k && !strcmp(k, "ConfigMap") && nm && !strcmp(nm, name) &&
		    (!dns || !ns || !strcmp(dns, ns)))
			return d;
	}
	return NULL;
}

/* The --calendar-table file may be a manifest holding the ConfigMap: then
 * the table is its `key`. Otherwise it is the CSV itself. Returns 1 and
 * *csv (borrowed from *docs, which the caller frees) when it is a manifest,
 * 0 when it is a plain table, -EINVAL when it is a manifest without it. */
static int table_from_manifest(const char *table, size_t tablelen,
			       const struct calendar_source_ref *ref, cJSON **docs,
			       const char **csv, char *err, size_t errlen)
{
	struct kyaml_error ye;
	*docs = NULL;
	if (kyaml_parse_all(table, tablelen, docs, &ye) < 0)
		return 0;
	const cJSON *d, *cm = NULL;
	int ncm = 0;
	cJSON_ArrayForEach(d, *docs)
	{
		const char *k = str_at(d, "kind", NULL);
		if (k && !strcmp(k, "ConfigMap")) {
			ncm++;
			cm = d;
		}
	}
	if (!ncm) {
		cJSON_Delete(*docs);
		*docs = NULL;
		return 0;
	}
	const char *key = ref ? ref->key : "table.csv";
	if (ref)
		cm = find_configmap(*docs, ref->namespace_, ref->name);
	else if (ncm > 1)
		cm = NULL;
	if (!cm)
		return ref ? seterr(err, errlen, "--calendar-table: no ConfigMap %s/%s in it",
				    ref->namespace_, ref->name)
			   : seterr(err, errlen,
				    "--calendar-table: %d ConfigMaps in it; which one?", ncm);
	*csv = str_at(cm, "data", key);
	if (!*csv)
		return seterr(err, errlen, "--calendar-table: ConfigMap %s has no key \"%s\"",
			      str_at(cm, "metadata", "name") ? str_at(cm, "metadata", "name") : "",
			      key);
	return 1;
}

int manifest_calendar(const cJSON *docs, const char *name, const char *table, size_t tablelen,
		      struct calendar **out, char *err, size_t errlen)
{
	char why[512];
	const cJSON *bc = manifest_find(docs, "BusinessCalendar", name, why, sizeof(why));
	if (!bc)
		return seterr(err, errlen, "%s", why);
	const char *bcname = str_at(bc, "metadata", "name");
	if (!bcname)
		bcname = "";
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(bc, "spec");
	if (!cJSON_IsObject(spec))
		return seterr(err, errlen, "BusinessCalendar \"%s\": spec: missing", bcname);
	struct calendar_source_ref ref;
	int has_source = calendar_spec_source(spec, &ref, why, sizeof(why));
	if (has_source < 0)
		return seterr(err, errlen, "BusinessCalendar \"%s\": %s", bcname, why);

	cJSON *table_docs = NULL;
	const char *csv = NULL;
	size_t csvlen = 0;
	int rc;
	if (table) {
		rc = table_from_manifest(table, tablelen, has_source ? &ref : NULL, &table_docs,
					 &csv, why, sizeof(why));
		if (rc < 0) {
			cJSON_Delete(table_docs);
			return seterr(err, errlen, "BusinessCalendar \"%s\": %s", bcname, why);
		}
		if (rc == 0) {
			csv = table;
			csvlen = tablelen;
		} else {
			csvlen = strlen(csv);
		}
	} else if (has_source) {
		const cJSON *cm = find_configmap(docs, ref.namespace_, ref.name);
		if (!cm)
			return seterr(err, errlen,
				      "BusinessCalendar \"%s\" reads its table from ConfigMap "
				      "%s/%s key %s: give the table with --calendar-table FILE, "
				      "or put the ConfigMap in the manifest",
				      bcname, ref.namespace_, ref.name, ref.key);
		csv = str_at(cm, "data", ref.key);
		if (!csv)
			return seterr(err, errlen,
				      "BusinessCalendar \"%s\": ConfigMap %s/%s has no key \"%s\"",
				      bcname, ref.namespace_, ref.name, ref.key);
		csvlen = strlen(csv);
	}
	rc = calendar_from_spec_json(spec, csv, csvlen, out, why, sizeof(why));
	cJSON_Delete(table_docs);
	if (rc < 0)
		return seterr(err, errlen, "BusinessCalendar \"%s\": %s", bcname, why);
	return 0;
}
