/* Projections: the parts of a Job and of a Pod the controller reads, so that
 * its stores keep those and nothing else (the reflectors' transform hook).
 * A full Job or Pod is several KB, mostly spec (the pod template, the
 * containers) and, for pods, status.containerStatuses; a controller that
 * watches a hundred schedules firing every second holds thousands of them.
 *
 * Kept, and who reads it:
 *   metadata — name/namespace/uid/resourceVersion (the store, gather,
 *     kill), creationTimestamp (history order), deletionTimestamp (a run
 *     still going), ownerReferences (the controller's uid, the pods' Job
 *     index), and of labels and annotations those starting "takt.io/" (the
 *     takt.io/schedule index; scheduled-time, trigger, killed, request-id;
 *     kill and kill-grace-seconds on pods): nothing else of them is read.
 *   Job status — conditions (type, status, lastTransitionTime: finished,
 *     succeeded, when), completionTime, and the small counters startTime,
 *     active, succeeded, failed (read by nobody here, kept for logs).
 *   Pod status — phase (a pod still present counts for Forbid).
 * Dropped: spec (no reader: the Job's spec comes from the BatchSchedule),
 * every other metadata and status field, other labels and annotations.
 *
 * BatchSchedules (project_schedule): the store holds one per schedule,
 * 10,000 of them for a bank's batch; as cJSON trees they were ~9 KB each
 * (a node is ~100 bytes with its key, and a spec and status have ~80).
 * Kept: metadata name/namespace/uid/resourceVersion/generation/
 * deletionTimestamp and the takt.io/ labels and
 * annotations (kill, kill-grace-seconds, run-now: the spec cache compares
 * them); spec and status each as one string, their JSON deflated with a
 * preset dictionary (project.c, "blobs"; malloc, owned and freed by its
 * node) — project_unblob gives the tree back for the moment
 * it is read: the spec when its version changes or a Job is built, the
 * status when the stored one does.
 * Dropped: apiVersion/kind (the list API leaves them out anyway),
 * creationTimestamp (no reader: a schedule's first slot is its first after
 * the controller sees it), managedFields, last-applied-configuration,
 * every other label and annotation, and labels/annotations left empty.
 * Every kept member's key is the projection's own literal, not a copy.
 *
 * Ownership: the functions edit the object in place; they neither keep nor
 * free it. NULL or a non-object is left alone.
 */
#ifndef TAKT_CONTROLLER_PROJECT_H
#define TAKT_CONTROLLER_PROJECT_H

struct cJSON;

void project_job(struct cJSON *job);
void project_pod(struct cJSON *pod);
void project_schedule(struct cJSON *sched);

/* A status object as project_schedule stores one (a new string node, the
 * caller's; NULL when status is not an object or memory ran out): for the
 * controller's own status, kept until the watch shows it. */
struct cJSON *project_status_blob(const struct cJSON *status);

/* A member written as a string by project_schedule, as a tree: v itself
 * when it is not a string (an object not projected: unit tests, a
 * manifest), else its JSON parsed into *owned (the caller's, cJSON_Delete)
 * and returned. NULL when v is NULL or its string does not parse. */
const struct cJSON *project_unblob(const struct cJSON *v, struct cJSON **owned);

#endif
