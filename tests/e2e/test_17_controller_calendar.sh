#!/usr/bin/env bash
# BusinessCalendars: a schedule fires on business days only (fail closed
# when its calendar is missing), calendars from a ConfigMap's CSV table are
# followed as they change, and each calendar's status is written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-cal || t_done
sfx=${NS##*-}
CALS="open-$sfx closed-$sfx late-$sfx table-$sfx"
cal_cleanup() {
	local c
	for c in $CALS; do kubectl delete businesscalendar "$c" --wait=false >/dev/null 2>&1; done
	ctl_cleanup
}
trap cal_cleanup EXIT
day() { date -u -d "@$(($(date +%s) + $1 * 86400))" +%F; } # day OFFSET: YYYY-MM-DD (UTC)
today=$(day 0)

bcal() { # bcal NAME HOLIDAYS_JSON [MORE_SPEC_JSON]
	kubectl apply -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "$1"},
 "spec": {"timeZone": "UTC", "weekendDays": [], "validFrom": "$(day -10)", "validUntil": "$(day 10)",
          "holidays": $2 ${3:+, $3}}}
EOF
}
on_cal() { # on_cal SCHEDULE CALENDAR
	bs_apply "$1" "* * * * * *" Allow 1s 0 "  calendar: {name: $2}"
}
bcal_field() { kubectl get businesscalendar "$1" -o jsonpath="{.status.$2}" 2>/dev/null; }
bcal_ready() { [ "$(kubectl get businesscalendar "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = "$2" ]; }

t_ok "calendar open (no weekend, no holiday)" bcal "open-$sfx" "[]"
t_ok "calendar closed (today a holiday)" bcal "closed-$sfx" "[\"$(day -1)\", \"$today\", \"$(day 1)\"]"
kn create configmap table --from-literal=table.csv="$(printf 'date,business\n%s,Y\n%s,Y\n%s,Y\n' "$(day -1)" "$today" "$(day 1)")" >/dev/null
t_ok "calendar table (a CSV in a ConfigMap)" kubectl apply -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "table-$sfx"},
 "spec": {"timeZone": "UTC", "weekendDays": [],
          "source": {"configMapRef": {"namespace": "$NS", "name": "table", "key": "table.csv"}}}}
EOF
ctl_watch_start
ctl_start
t_ok "schedules on each calendar" on_cal biz "open-$sfx"
on_cal shut "closed-$sfx" >/dev/null
on_cal lost "late-$sfx" >/dev/null
on_cal csv "table-$sfx" >/dev/null

wait_for 10 "open: its status is written, Ready=True" bcal_ready "open-$sfx" True
t_is "open: businessDays counts the 21 covered days" "$(bcal_field "open-$sfx" businessDays)" 21
t_is "open: validUntil" "$(bcal_field "open-$sfx" validUntil)" "$(day 10)"
wait_for 10 "table: Ready=True from the ConfigMap" bcal_ready "table-$sfx" True
t_like "table: sourceResourceVersion recorded" "$(bcal_field "table-$sfx" sourceResourceVersion)" '^[0-9]+$'
wait_for 10 "lost: CalendarReady=False (not found)" bs_cond_is lost CalendarReady False
t_is "lost: reason CalendarNotFound" "$(bs_cond lost CalendarReady reason)" CalendarNotFound
sleep 5
wait_for 10 "biz runs on a business day (3 Jobs or more)" jobs_at_least biz 3
wait_for 10 "csv runs: the table says today is a business day" jobs_at_least csv 3
t_is "shut does not run on a holiday" "$(count_jobs_of shut)" 0
t_is "shut: the next slot is the first business day after the holidays" \
	"$(bs_status shut nextScheduleTime)" "$(day 2)T00:00:00.000Z"
t_is "lost does not run while its calendar is missing" "$(count_jobs_of lost)" 0

# Changes are followed without a restart.
t_ok "the missing calendar is created" bcal "late-$sfx" "[]"
wait_for 10 "lost: CalendarReady=True" bs_cond_is lost CalendarReady True
wait_for 10 "lost runs now" jobs_at_least lost 1
kn create configmap table --dry-run=client -o yaml \
	--from-literal=table.csv="$(printf 'date,business\n%s,Y\n%s,N\n%s,Y\n' "$(day -1)" "$today" "$(day 1)")" |
	kn replace -f - >/dev/null
changed_at=$(date +%s)
sleep 4
ctl_facts csv
t_cmp "csv stops once the table says today is not a business day (last slot $(fact last_slot))" \
	"$(fact last_slot)" -le $((changed_at + 1))
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
t_done
