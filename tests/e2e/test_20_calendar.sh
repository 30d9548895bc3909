#!/usr/bin/env bash
# BusinessCalendars, live: edits of a calendar (its spec, its coverage, the
# ConfigMap table it reads) reach the schedules that use it by their next
# slot, without a restart; a date the calendar does not cover, and a broken
# table, fail closed (CalendarReady=False, the calendar's Ready=False naming
# the row, a Warning Event) and recover when fixed; a table in a namespace
# first named while running; and the examples (krx, month-ends,
# business-hours-5s) planned by the controller exactly as `kubectl takt
# next` prints them. test_17 covers the basics (business day / holiday,
# missing calendar, status fields).
#
# Dates are UTC days (the calendars' zone is UTC) computed once at the start;
# the script waits out the last 2 minutes of a UTC day so "today" holds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

left=$((86400 - $(date -u +%s) % 86400))
[ "$left" -lt 120 ] && sleep $((left + 2))
t_ns_create cal20 || t_done
sfx=${NS##*-}
CALS="edit-$sfx cov-$sfx tab-$sfx late-$sfx krx-$sfx"
NS2=$NS-t # a second namespace, for a table in a namespace not watched yet
cal_cleanup() {
	local c
	for c in $CALS; do kubectl delete businesscalendar "$c" --wait=false >/dev/null 2>&1; done
	kubectl delete namespace "$NS2" --wait=false >/dev/null 2>&1
	ctl_cleanup
}
trap cal_cleanup EXIT
day() { date -u -d "@$(($(date +%s) + $1 * 86400))" +%F; } # day OFFSET: YYYY-MM-DD (UTC)
today=$(day 0)

bcal() { # bcal NAME VALID_UNTIL HOLIDAYS_JSON
	kubectl apply -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "$1"},
 "spec": {"timeZone": "UTC", "weekendDays": [], "validFrom": "$(day -10)", "validUntil": "$2",
          "holidays": $3}}
EOF
}
bcal_field() { kubectl get businesscalendar "$1" -o jsonpath="{.$2}" 2>/dev/null; }
bcal_cond() { kubectl get businesscalendar "$1" -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].$2}" 2>/dev/null; }
bcal_ready() { [ "$(bcal_cond "$1" status)" = "$2" ]; }
bcal_observed() { [ "$(bcal_field "$1" status.observedGeneration)" = "$(bcal_field "$1" metadata.generation)" ]; }
on_cal() { bs_apply "$1" "* * * * * *" Allow 1s 0 "  calendar: {name: $2}"; }
# runs_since NAME SECS: the schedule has a Job whose slot is at or after SECS.
runs_since() { [ "$(jobs_of_after "$1" "$2")" -ge 1 ]; }
table() { # table CSV: the ConfigMap `table` holding it (created or replaced)
	kn create configmap table --dry-run=client -o yaml --from-literal=table.csv="$1" | kn apply -f - >/dev/null
}
warned() { [ "$(events_with "$1" Warning)" -ge 1 ]; } # warned REASON

t_ok "calendar edit-$sfx: today a business day" bcal "edit-$sfx" "$(day 10)" "[]"
t_ok "calendar cov-$sfx: coverage ends yesterday" bcal "cov-$sfx" "$(day -1)" "[]"
t_ok "table: today a business day" table "$(printf 'date,business\n%s,Y\n%s,Y\n%s,Y\n' "$(day -1)" "$today" "$(day 1)")"
t_ok "calendar tab-$sfx from the table" kubectl apply -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "tab-$sfx"},
 "spec": {"timeZone": "UTC", "weekendDays": [],
          "source": {"configMapRef": {"namespace": "$NS", "name": "table", "key": "table.csv"}}}}
EOF
ctl_watch_start
ctl_start
t_ok "schedules every second on each calendar" on_cal edit "edit-$sfx"
on_cal cov "cov-$sfx" >/dev/null
on_cal tab "tab-$sfx" >/dev/null

# --- a spec edit takes effect by the next slot -----------------------------
wait_for 15 "edit: runs on a business day" runs_since edit "$(date +%s)"
t_ok "edit: today becomes a holiday" bcal "edit-$sfx" "$(day 10)" "[\"$today\"]"
changed_at=$(date +%s)
wait_for 10 "edit-$sfx: its status follows the new generation" bcal_observed "edit-$sfx"
sleep 4
ctl_facts edit
t_cmp "edit: no run after the edit's next slot (last slot $(fact last_slot), edit at $changed_at)" \
	"$(fact last_slot)" -le $((changed_at + 1))
t_is "edit: the next slot is tomorrow's first second" "$(bs_status edit nextScheduleTime)" "$(day 1)T00:00:00.000Z"
t_is "edit: CalendarReady stays True (a holiday is not an error)" "$(bs_cond edit CalendarReady status)" True
t_ok "edit: the holiday is removed again" bcal "edit-$sfx" "$(day 10)" "[]"
back_at=$(date +%s)
wait_for 5 "edit: runs resume by the next slots" runs_since edit $((back_at + 1))

# --- outside the coverage: fail closed, then recover --------------------
wait_for 10 "cov: CalendarReady=False" bs_cond_is cov CalendarReady False
t_is "cov: reason NotCovered" "$(bs_cond cov CalendarReady reason)" NotCovered
t_like "cov: the message names today" "$(bs_cond cov CalendarReady message)" "does not cover $today"
t_is "cov: no run while today is not covered" "$(count_jobs_of cov)" 0
t_is "cov: the calendar itself is fine (Ready=True)" "$(bcal_cond "cov-$sfx" status)" True
wait_for 5 "cov: a Warning Event NotCovered, while failing closed" warned NotCovered
t_ok "cov: the coverage is extended" bcal "cov-$sfx" "$(day 10)" "[]"
ext_at=$(date +%s)
wait_for 10 "cov: CalendarReady=True again" bs_cond_is cov CalendarReady True
wait_for 5 "cov: runs start once covered" runs_since cov "$ext_at"
# The calendar's own status is written apart from the schedules' re-plan:
# the run above does not mean it is there yet.
bcal_field_is() { [ "$(bcal_field "$1" "$2")" = "$3" ]; } # bcal_field_is NAME FIELD VALUE
wait_for 10 "cov-$sfx: status.validUntil follows" bcal_field_is "cov-$sfx" status.validUntil "$(day 10)"
ctl_facts cov
t_cmp "cov: no run for a slot before the extension (first slot $(fact first_slot), extended at $ext_at)" \
	"$(fact first_slot)" -ge $((ext_at - 1))
t_diag "cov: counters skippedCalendar=$(bs_status cov skippedCalendar) missed=$(bs_status cov missed)"

# --- a table in a namespace the controller does not watch yet -----------
kubectl create namespace "$NS2" >/dev/null
kubectl -n "$NS2" create configmap table \
	--from-literal=table.csv="$(printf '%s,Y\n%s,Y\n' "$today" "$(day 1)")" >/dev/null
t_ok "calendar late-$sfx, its table in namespace $NS2 (created while running)" kubectl apply -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "late-$sfx"},
 "spec": {"timeZone": "UTC", "weekendDays": [],
          "source": {"configMapRef": {"namespace": "$NS2", "name": "table", "key": "table.csv"}}}}
EOF
wait_for 10 "late-$sfx: Ready=True (the new namespace's ConfigMaps listed)" bcal_ready "late-$sfx" True
t_is "late-$sfx: coverage from the rows" \
	"$(bcal_field "late-$sfx" status.validFrom)..$(bcal_field "late-$sfx" status.validUntil)" "$today..$(day 1)"
on_cal late "late-$sfx" >/dev/null
wait_for 10 "late: runs" runs_since late "$(date +%s)"
t_ok "late-$sfx is deleted" kubectl delete businesscalendar "late-$sfx"
wait_for 10 "late: CalendarReady=False (not found)" bs_cond_is late CalendarReady False
watch_stopped() { ctl_log | grep -q "msg=\"configmap watch stopped\" ns=$NS2\$"; }
wait_for 5 "the ConfigMap watch of $NS2 is stopped (no calendar names it)" watch_stopped

# --- a ConfigMap table: edits flow through; broken is fail closed --------
wait_for 15 "tab: runs (the table says today is a business day)" runs_since tab "$(date +%s)"
rv_before=$(bcal_field "tab-$sfx" status.sourceResourceVersion)
t_ok "the table breaks: row 3 is 30 February" table "$(printf 'date,business\n%s,Y\n2026-02-30,Y\n%s,Y\n' "$(day -1)" "$(day 1)")"
broke_at=$(date +%s)
wait_for 10 "tab-$sfx: Ready=False" bcal_ready "tab-$sfx" False
t_like "tab-$sfx: the message names the row and the reason" "$(bcal_cond "tab-$sfx" message)" \
	'table.csv row 3: "2026-02-30" is not a valid date'
t_is "tab-$sfx: no coverage while broken (not the last good table)" "$(bcal_field "tab-$sfx" status.validUntil)" ""
t_ok "tab-$sfx: sourceResourceVersion moved" test "$(bcal_field "tab-$sfx" status.sourceResourceVersion)" != "$rv_before"
wait_for 10 "tab: CalendarReady=False" bs_cond_is tab CalendarReady False
t_is "tab: reason CalendarInvalid" "$(bs_cond tab CalendarReady reason)" CalendarInvalid
t_like "tab: the schedule's message carries the row" "$(bs_cond tab CalendarReady message)" 'row 3: "2026-02-30"'
wait_for 5 "tab: a Warning Event CalendarInvalid" warned CalendarInvalid
sleep 3
ctl_facts tab
t_cmp "tab: no run after the table broke (last slot $(fact last_slot), broken at $broke_at)" \
	"$(fact last_slot)" -le $((broke_at + 1))
t_ok "the table is fixed" table "$(printf 'date,business\n%s,Y\n%s,Y\n%s,Y\n' "$(day -1)" "$today" "$(day 1)")"
fixed_at=$(date +%s)
wait_for 10 "tab-$sfx: Ready=True again" bcal_ready "tab-$sfx" True
wait_for 5 "tab: runs resume" runs_since tab $((fixed_at + 1))
t_is "tab-$sfx: businessDays counts the table's 3 days" "$(bcal_field "tab-$sfx" status.businessDays)" 3
# Descriptions only: the same days, so nothing is re-planned.
rv_fixed=$(bcal_field "tab-$sfx" status.sourceResourceVersion)
t_ok "the table gets descriptions, the same days" \
	table "$(printf 'date,business,description\n%s,Y,a\n%s,Y,b\n%s,Y,c\n' "$(day -1)" "$today" "$(day 1)")"
rv_moved() { [ "$(bcal_field "tab-$sfx" status.sourceResourceVersion)" != "$rv_fixed" ]; }
wait_for 10 "tab-$sfx: status.sourceResourceVersion follows the ConfigMap" rv_moved
t_like "tab-$sfx: reloaded, not reported as changed (controller log)" \
	"$(ctl_log | grep "msg=\"calendar loaded\" obj=tab-$sfx " | tail -1)" 'ready=1 .*changed=0'

# --- the examples: the controller plans what `kubectl takt next` prints ---
krx_named() { sed "s/name: krx\$/name: krx-$sfx/" "$@"; } # the examples on our own calendar
EX=$T_ROOT/examples
t_ok "the krx calendar (as krx-$sfx)" kubectl apply -f <(krx_named "$EX/calendars/krx-2026.yaml")
wait_for 10 "krx-$sfx: Ready=True" bcal_ready "krx-$sfx" True
t_ok "the example schedules on it" kn apply -f <(krx_named "$EX/month-ends.yaml") -f <(krx_named "$EX/business-hours-5s.yaml")
cli_next() { "$T_ROOT/bin/kubectl-takt" next -f "$2" --name "$1" --calendar "$EX/calendars/krx-2026.yaml" --count 1; }
bs_has_next() { [ -n "$(bs_status "$1" nextScheduleTime)" ]; }
# next_is_clis BS FILE: the controller's nextScheduleTime is what the CLI
# prints at the same moment (during the exchange's hours the 5 s schedules
# move on between two reads, and the status follows each slot a little late).
next_is_clis() {
	local want got
	want=$(cli_next "$1" "$2")
	got=$(bs_status "$1" nextScheduleTime)
	echo "controller ${got:-<unset>}, kubectl takt next $want"
	[ "$got" = "${want%Z}.000Z" ]
}
for ex in month-ends:month-ends.yaml market-hours:business-hours-5s.yaml \
	market-hours-close:business-hours-5s.yaml; do
	bs=${ex%%:*} file=$EX/${ex#*:}
	want=$(cli_next "$bs" "$file")
	wait_for 10 "$bs: nextScheduleTime is set" bs_has_next "$bs"
	wait_for 10 "$bs: the controller's next slot is the CLI's ($want)" next_is_clis "$bs" "$file"
done
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
t_done
