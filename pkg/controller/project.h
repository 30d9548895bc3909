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
 * Ownership: the functions edit the object in place; they neither keep nor
 * free it. NULL or a non-object is left alone.
 */
#ifndef TAKT_CONTROLLER_PROJECT_H
#define TAKT_CONTROLLER_PROJECT_H

struct cJSON;

void project_job(struct cJSON *job);
void project_pod(struct cJSON *pod);

#endif
