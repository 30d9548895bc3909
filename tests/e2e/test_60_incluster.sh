#!/usr/bin/env bash
# In-cluster identity (issue 13): takt-controller run exactly as in a pod of
# deploy/ (tests/e2e/incluster.sh: deploy/base/rbac.yaml applied as is, a
# TokenRequest token, the CA and the namespace at the service account's
# fixed path in a private mount namespace, KUBERNETES_SERVICE_HOST/PORT, the
# Deployment's flags). With that identity and nothing more: a schedule fires,
# calendars (inline and from a ConfigMap) are followed, a kill deletes a run.
# Least privilege: without the jobs create rule a schedule gets FailedCreate,
# without the pods delete rule a kill cannot delete its pod (recorded as
# failed, not retried); both work again once the rule is back. Token rotation: the token file is replaced by a new
# token and the Secret the old one is bound to is deleted (the apiserver then
# refuses the old token); the same process keeps creating Jobs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"
. "$(dirname "$0")/incluster.sh"

t_ns_create incluster || t_done
sfx=${NS##*-}
ID=$(mktemp -d "${TMPDIR:-/tmp}/takt-e2e-sa.XXXXXX")
CALS="ic-open-$sfx ic-closed-$sfx ic-table-$sfx"
ic_cleanup() {
	local c
	ctl_cleanup
	for c in $CALS; do kubectl delete businesscalendar "$c" --wait=false >/dev/null 2>&1; done
	incluster_cleanup
	rm -rf "$ID"
}
trap ic_cleanup EXIT
SA=system:serviceaccount:$INCLUSTER_NS:$INCLUSTER_SA
SERVER=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')

# api_code TOKEN METHOD PATH [BODY]: the HTTP status the apiserver answers
# to that token (curl with the service account's CA, as a pod would).
api_code() {
	curl -s -o /dev/null -w '%{http_code}' --cacert "$ID/ca.crt" -X "$2" \
		-H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		${4:+--data "$4"} "$SERVER$3"
}
whoami() { # whoami TOKEN: the user the apiserver sees
	curl -s --cacert "$ID/ca.crt" -X POST -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		--data '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' \
		"$SERVER/apis/authentication.k8s.io/v1/selfsubjectreviews" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["status"]["userInfo"]["username"])'
}

t_ok "identity: deploy/base/rbac.yaml as is, a token bound to Secret token-1" incluster_identity "$ID" token-1
token1=$(incluster_token_of "$ID")
t_is "the token is the ServiceAccount's" "$(whoami "$token1")" "$SA"
t_is "RBAC: it may create Jobs" "$(kubectl auth can-i create jobs.batch -n "$NS" --as="$SA")" yes
t_is "RBAC: it may not read Secrets" "$(kubectl auth can-i list secrets -n "$NS" --as="$SA")" no
t_is "RBAC: it may not get one schedule (list and watch only)" \
	"$(kubectl auth can-i get batchschedules.takt.io -n "$NS" --as="$SA")" no

# As the Deployment runs it (deploy/base/controller.yaml's args), all namespaces.
LOG=$CTL_LOGDIR/controller-$NS.log
incluster_cmd "$ID"
"${INCLUSTER_CMD[@]}" "$CTL_BIN" --log-level=info --leader-elect --http-addr=127.0.0.1:0 >>"$LOG" 2>&1 &
CTL_PID=$!
t_diag "takt-controller (in-cluster) pid $CTL_PID, log $LOG"
wait_for 20 "it leads, with the Lease in its own namespace (from the namespace file)" \
	grep -q 'became the leader.*lease=takt-system/takt-controller' "$LOG"
t_like "it runs with the in-cluster config, not a kubeconfig" "$(grep -m1 'msg="starting"' "$LOG")" \
	"server=https://127\.0\.0\.1:[0-9]+ context=in-cluster namespace=\(all\)"

# ---- a schedule fires ---------------------------------------------------------
t_ok "schedule tick (every 2 s, Allow)" bs_apply tick "*/2 * * * * *" Allow 1s 0 "  successfulJobsHistoryLimit: 50"
wait_for 20 "tick fires: 2 Jobs" jobs_at_least tick 2
wait_for 10 "tick: Ready=True (the status patch is allowed)" bs_cond_is tick Ready True

# ---- calendars: inline, and a CSV table in a ConfigMap ------------------------
day() { date -u -d "@$(($(date +%s) + $1 * 86400))" +%F; }
bcal() { # bcal NAME HOLIDAYS_JSON
	kubectl apply -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "$1"},
 "spec": {"timeZone": "UTC", "weekendDays": [], "validFrom": "$(day -10)", "validUntil": "$(day 10)",
          "holidays": $2}}
EOF
}
bcal_ready() { [ "$(kubectl get businesscalendar "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = "$2" ]; }
bcal "ic-open-$sfx" "[]" >/dev/null
bcal "ic-closed-$sfx" "[\"$(day -1)\", \"$(day 0)\", \"$(day 1)\"]" >/dev/null
kn create configmap table --from-literal=table.csv="$(printf 'date,business\n%s,Y\n%s,Y\n%s,Y\n' "$(day -1)" "$(day 0)" "$(day 1)")" >/dev/null
kubectl apply -f - >/dev/null <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "ic-table-$sfx"},
 "spec": {"timeZone": "UTC", "weekendDays": [],
          "source": {"configMapRef": {"namespace": "$NS", "name": "table", "key": "table.csv"}}}}
EOF
for s in biz:open shut:closed csv:table; do
	bs_apply "${s%%:*}" "* * * * * *" Allow 1s 0 "  calendar: {name: ic-${s#*:}-$sfx}" >/dev/null
done
wait_for 10 "calendar open: its status written, Ready=True" bcal_ready "ic-open-$sfx" True
wait_for 10 "calendar table: Ready=True from the ConfigMap (configmaps list+watch)" bcal_ready "ic-table-$sfx" True
wait_for 15 "biz fires on a business day" jobs_at_least biz 2
wait_for 15 "csv fires: the table says today is a business day" jobs_at_least csv 2
t_is "shut does not fire on a holiday" "$(count_jobs_of shut)" 0
t_is "shut: the next slot is the first business day after the holidays" \
	"$(bs_status shut nextScheduleTime)" "$(day 2)T00:00:00.000Z"
kn delete bs biz shut csv --wait=false >/dev/null 2>&1

# ---- a kill deletes a run -------------------------------------------------------
running_pod() { # running_pod SCHED: a Running pod of SCHED, not terminating
	kn get pods -l "takt.io/schedule=$1" -o json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"):
        print(p["metadata"]["name"]); break'
}
has_running_pod() { [ -n "$(running_pod "$1")" ]; }
terminating() { [ -n "$(kn get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; }
t_ok "schedule hang (Forbid, every second, runs last 1h)" bs_apply hang "* * * * * *" Forbid 1h
wait_for 30 "hang: a run is Running" has_running_pod hang
pod=$(running_pod hang)
t_ok "takt.io/kill=ic-kill-1 on the schedule" kn annotate bs hang takt.io/kill=ic-kill-1 takt.io/kill-grace-seconds=0
wait_for 10 "the run's pod is deleted" pod_gone "$pod"
wait_for 10 "status.lastKill records the request" eval '[ "$(bs_status hang lastKill.requestId)" = ic-kill-1 ]'
t_is "status.lastKill.podsDeleted" "$(bs_status hang lastKill.podsDeleted)" 1

# ---- least privilege: drop a rule, the scenario fails; restore it --------------
ORIG=$ID/clusterrole.json
kubectl get clusterrole takt-controller -o json >"$ORIG"
# role_without GROUP RESOURCE VERB: replaces the ClusterRole by a copy
# without that verb on that resource.
role_without() {
	python3 -c '
import json, sys
g, r, v = sys.argv[1:4]
cr = json.load(open(sys.argv[4]))
for rule in cr["rules"]:
    if g in rule.get("apiGroups", []) and r in rule.get("resources", []):
        rule["verbs"] = [x for x in rule["verbs"] if x != v]
cr["rules"] = [x for x in cr["rules"] if x["verbs"]]
for k in ("resourceVersion", "managedFields", "uid", "creationTimestamp"):
    cr["metadata"].pop(k, None)
print(json.dumps(cr))' "$1" "$2" "$3" "$ORIG" | kubectl replace -f - >/dev/null
}
role_restore() {
	python3 -c '
import json, sys
cr = json.load(open(sys.argv[1]))
for k in ("resourceVersion", "managedFields", "uid", "creationTimestamp"):
    cr["metadata"].pop(k, None)
print(json.dumps(cr))' "$ORIG" | kubectl replace -f - >/dev/null
}
can_i() { [ "$(kubectl auth can-i "$1" "$2" -n "$NS" --as="$SA")" = "$3" ]; }

t_ok "the ClusterRole without create on jobs" role_without batch jobs create
wait_for 10 "(RBAC: create jobs is denied)" can_i create jobs.batch no
t_ok "schedule denied (every second)" bs_apply denied "* * * * * *" Allow 1s
wait_for 15 "denied: Ready=False, reason FailedCreate" eval '[ "$(bs_cond denied Ready reason)" = FailedCreate ]'
t_like "with the apiserver's refusal" "$(bs_cond denied Ready message)" 'forbidden.*cannot create resource "jobs"'
wait_for 10 "a FailedCreate Warning Event" events_at_least FailedCreate Warning 1
t_is "and no Job" "$(count_jobs_of denied)" 0
t_ok "the rule restored" role_restore
wait_for 10 "(RBAC: create jobs is allowed again)" can_i create jobs.batch yes
wait_for 15 "denied fires once the rule is back" jobs_at_least denied 1
wait_for 10 "denied: Ready=True" bs_cond_is denied Ready True
kn delete bs denied --wait=false >/dev/null 2>&1

wait_for 30 "hang: a new run is Running" has_running_pod hang
pod=$(running_pod hang)
t_ok "the ClusterRole without delete on pods" role_without "" pods delete
wait_for 10 "(RBAC: delete pods is denied)" can_i delete pods no
t_ok "takt.io/kill=ic-kill-2 on the schedule" kn annotate --overwrite bs hang takt.io/kill=ic-kill-2 takt.io/kill-grace-seconds=0
wait_for 10 "the controller's pod delete is refused (403 in its log)" \
	grep -Eq "pod delete failed\" obj=$NS/$pod status=403" "$LOG"
wait_for 10 "the kill is recorded as failed" eval '[ "$(bs_status hang lastKill.requestId)" = ic-kill-2 ]'
t_like "lastKill.failed names the refusal" "$(bs_status hang lastKill.failed)" "refused to delete pod $pod: 403 Forbidden"
t_is "lastKill.podsDeleted" "$(bs_status hang lastKill.podsDeleted)" 0
sleep 2
t_nok "the pod is not deleted" terminating "$pod"
t_is "the refused delete is not retried (one 403 in the log)" \
	"$(grep -Ec "pod delete failed\" obj=$NS/$pod status=403" "$LOG")" 1
t_ok "the ClusterRole restored" role_restore
wait_for 10 "(RBAC: delete pods is allowed again)" can_i delete pods yes
t_ok "a new request, takt.io/kill=ic-kill-3" kn annotate --overwrite bs hang takt.io/kill=ic-kill-3 takt.io/kill-grace-seconds=0
wait_for 20 "deletes the pod" pod_gone "$pod"
kn delete bs hang --wait=false >/dev/null 2>&1

# ---- token rotation: new token in the file, the old one revoked ---------------
t_is "before: the apiserver takes the first token" \
	"$(api_code "$token1" GET /apis/takt.io/v1alpha1/namespaces/"$NS"/batchschedules)" 200
t_ok "a new token bound to Secret token-2, swapped into the file" incluster_rotate "$ID" token-2
token2=$(incluster_token_of "$ID")
t_ok "(the file holds a different token)" test "$token2" != "$token1"
t_ok "the Secret token-1 deleted (revokes the first token)" kubectl -n "$INCLUSTER_NS" delete secret token-1
revoked=$(date +%s)
old_refused() { [ "$(api_code "$token1" GET /apis/takt.io/v1alpha1/namespaces/"$NS"/batchschedules)" = 401 ]; }
wait_for 30 "the apiserver refuses the first token (401)" old_refused
t_is "and takes the new one" "$(api_code "$token2" GET /apis/takt.io/v1alpha1/namespaces/"$NS"/batchschedules)" 200
after=$(date +%s)
wait_for 20 "tick keeps firing after the revocation (3 Jobs with later slots)" jobs_after_at_least tick "$after" 3
t_ok "the same process, never restarted" kill -0 "$CTL_PID"
t_is "it started once" "$(grep -c 'msg="starting"' "$LOG")" 1
t_is "no request was refused as unauthenticated (401)" "$(grep -Ec 'status=401|Unauthorized' "$LOG")" 0
t_diag "revoked at $revoked, old token refused by $after"
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
t_done
