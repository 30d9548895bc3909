#!/usr/bin/env bash
# kubectl takt next with business-day calendars: --calendar (a
# BusinessCalendar manifest, with its ConfigMap or not), --calendar-table,
# the rule flags, -f with the example schedules, the coverage-end warning and
# the exit-2 lines for broken calendars. The expected instants were worked
# out by hand from examples/calendars/krx-2026.yaml (Seoul is UTC+9, so 09:00
# there is 00:00Z).
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-bin}/kubectl-takt
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_calendar.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# expect_out NAME WANT_STDOUT WANT_STDERR_ERE -- args...: exit 0, stdout
# exactly WANT, stderr empty (WANT_STDERR_ERE "") or one line matching it.
expect_out() {
	local name=$1 want=$2 werr=$3 got rc err
	shift 4
	got=$("$bin" "$@" 2>"$tmp/err")
	rc=$?
	err=$(cat "$tmp/err")
	if [ $rc -eq 0 ] && [ "$got" = "$want" ] &&
		{ { [ -z "$werr" ] && [ -z "$err" ]; } ||
			{ [ -n "$werr" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [[ $err =~ $werr ]]; }; }; then
		ok "$name"
	else
		bad "$name" "rc=$rc" "got: $(echo "$got" | tr '\n' ' ')" "want: $(echo "$want" | tr '\n' ' ')" "stderr: $err" "want stderr: ${werr:-(none)}"
	fi
}
# expect_fail NAME STDERR_ERE -- args...: exit 2, nothing on stdout, one stderr line
expect_fail() {
	local name=$1 re=$2 out err rc
	shift 3
	out=$("$bin" "$@" 2>"$tmp/err")
	rc=$?
	err=$(cat "$tmp/err")
	if [ $rc -eq 2 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [[ $err =~ $re ]]; then
		ok "$name"
	else
		bad "$name" "rc=$rc (want 2)" "stdout: $out" "stderr: $err" "want stderr matching: $re"
	fi
}

echo "1..31"
[ -x "$bin" ] || { bad "$bin is built"; exit 1; }
KRX=examples/calendars/krx-2026.yaml
TABLE=examples/calendars/krx-table.yaml

# --- the krx calendar written out in the spec -------------------------------
expect_out "Seollal: weekend and holiday slots move to the next business day, once" \
"2026-02-19T00:00:00Z
2026-02-20T00:00:00Z
2026-02-23T00:00:00Z" "" -- next --schedule "0 9 * * *" --calendar $KRX \
	--on-non-business-day NextBusinessDay --from 2026-02-13T00:00:00Z --count 3
expect_out "the schedule's zone defaults to the calendar's (Asia/Seoul)" \
"2026-01-02T00:00:00Z
2026-01-05T00:00:00Z" "" -- next --schedule "0 9 * * *" --calendar $KRX --from 2026-01-01T00:00:00Z --count 2
expect_out "--time-zone overrides the calendar's zone" \
"2026-01-02T09:00:00Z" "" -- next --schedule "0 9 * * *" --calendar $KRX --time-zone UTC --from 2026-01-01T00:00:00Z --count 1
expect_out "PreviousBusinessDay: 1 Jan moves back into 2026 only from 2 Jan on (31 Dec 2025 is not covered)" \
"2026-01-02T00:00:00Z" "" -- next --schedule "0 9 2 1 *" --calendar $KRX --on-non-business-day PreviousBusinessDay \
	--from 2025-12-31T00:00:00Z --count 1
expect_out "PreviousBusinessDay: Children's Day (Tue 5 May) runs on Mon 4 May" \
"2026-05-04T00:00:00Z
2027-05-04T00:00:00Z" "" -- next --schedule "0 9 5 5 *" --calendar $KRX --on-non-business-day PreviousBusinessDay \
	--from 2026-01-01T00:00:00Z --count 2
expect_out "--days NonBusinessDays: the weekend and Seollal" \
"2026-02-14T00:00:00Z
2026-02-15T00:00:00Z
2026-02-16T00:00:00Z
2026-02-17T00:00:00Z
2026-02-18T00:00:00Z
2026-02-21T00:00:00Z" "" -- next --schedule "0 9 * * *" --calendar $KRX --days NonBusinessDays --from 2026-02-13T00:00:00Z --count 6
expect_out "--business-day-of-month 1,-1: 2 Jan (1 Jan a holiday), 30 Jan, 2 Feb, 27 Feb" \
"2026-01-02T00:00:00Z
2026-01-30T00:00:00Z
2026-02-02T00:00:00Z
2026-02-27T00:00:00Z" "" -- next --schedule "0 9 * * *" --calendar $KRX --business-day-of-month 1,-1 --from 2026-01-01T00:00:00Z --count 4
expect_out "the last business day of December 2027 is the 30th; then the coverage ends (warning, exit 0)" \
"2027-12-30T00:00:00Z" "warning: stopped where the calendar's coverage ends: .*needs 2028-01-01, outside the calendar's coverage 2026-01-01\.\.2027-12-31" \
	-- next --schedule "0 9 * * *" --calendar $KRX --business-day-of-month -1 --from 2027-12-01T00:00:00Z --count 3
expect_out "slots before the coverage are passed over with a warning" \
"2026-01-02T00:00:00Z" "warning: passing over the slots before the calendar's coverage: .*outside the calendar's coverage 2026-01-01\.\.2027-12-31" \
	-- next --schedule "0 9 * * *" --calendar $KRX --from 2025-06-01T00:00:00Z --count 1

# --- a table in a ConfigMap ------------------------------------------------
expect_out "ConfigMap + BusinessCalendar in one manifest; stops at the table's last row with a warning" \
"2026-12-29T00:00:00Z
2026-12-30T00:00:00Z" "^kubectl takt next: warning: stopped where the calendar's coverage ends: the slot at 2027-01-01T00:00:00Z \(local date 2027-01-01\) needs 2027-01-01, outside the calendar's coverage 2026-01-01\.\.2026-12-31$" \
	-- next --schedule "0 9 * * *" --calendar $TABLE --from 2026-12-28T00:00:00Z --count 5
# The same calendar, its manifest and its CSV in separate files.
awk '/^---$/ { cal = 1; next } cal' $TABLE >"$tmp/krx-cal.yaml"
awk '/table.csv: \|/ { on = 1; next } on && /^---$/ { exit } on { sub(/^    /, ""); print }' $TABLE >"$tmp/table.csv"
awk '/^---$/ { exit } { print }' $TABLE >"$tmp/cm.yaml"
want_feb="2026-02-19T00:00:00Z
2026-02-20T00:00:00Z
2026-02-23T00:00:00Z"
expect_out "--calendar-table FILE: the CSV" "$want_feb" "" -- next --schedule "0 9 * * *" --calendar "$tmp/krx-cal.yaml" \
	--calendar-table "$tmp/table.csv" --on-non-business-day NextBusinessDay --from 2026-02-13T00:00:00Z --count 3
expect_out "--calendar-table FILE: a manifest holding the ConfigMap" "$want_feb" "" -- next --schedule "0 9 * * *" \
	--calendar "$tmp/krx-cal.yaml" --calendar-table "$tmp/cm.yaml" --on-non-business-day NextBusinessDay --from 2026-02-13T00:00:00Z --count 3
# 2026 has 261 weekdays, 17 of them closed: both sources give the same 244
# days, and the table's end stops the list.
got=$("$bin" next --schedule "0 9 * * *" --calendar $TABLE --from 2026-01-01T00:00:00Z --count 300 2>"$tmp/err")
want=$("$bin" next --schedule "0 9 * * *" --calendar $KRX --from 2026-01-01T00:00:00Z --count 244 2>&1)
if [ "$got" = "$want" ] && [ "$(echo "$got" | wc -l)" -eq 244 ] && grep -q "warning: stopped where" "$tmp/err"; then
	ok "the CSV table and the spec's holidays give the same 244 business days of 2026"
else
	bad "the CSV table and the spec's holidays give the same 244 business days of 2026" \
		"$(diff <(echo "$got") <(echo "$want") | head -5)" "$(echo "$got" | wc -l) lines" "stderr: $(cat "$tmp/err")"
fi
expect_fail "a source without its table says how to give it" \
	'^kubectl takt next: invalid --calendar .*krx-cal.yaml: BusinessCalendar "krx-table" reads its table from ConfigMap calendars/krx-table key table.csv: give the table with --calendar-table FILE, or put the ConfigMap in the manifest$' \
	-- next --schedule "0 9 * * *" --calendar "$tmp/krx-cal.yaml"
# A broken table: row 7 (counting the header) is 30 February.
awk 'NR == 7 { print "2026-02-30,N,not a day"; next } { print }' "$tmp/table.csv" >"$tmp/broken.csv"
expect_fail "a broken table: exit 2 naming the row and the reason" \
	'^kubectl takt next: invalid --calendar .*krx-cal.yaml: BusinessCalendar "krx-table": table.csv row 7: "2026-02-30" is not a valid date$' \
	-- next --schedule "0 9 * * *" --calendar "$tmp/krx-cal.yaml" --calendar-table "$tmp/broken.csv"
printf 'date,business\n2026-03-03,Y\n2026-03-03,N\n' >"$tmp/both.csv"
expect_fail "a date listed both ways" 'table.csv row 3, table.csv row 2|table.csv row 2, table.csv row 3' \
	-- next --schedule "0 9 * * *" --calendar "$tmp/krx-cal.yaml" --calendar-table "$tmp/both.csv"
sed 's/"2026-02-17"/"2026-13-01"/' $KRX >"$tmp/bad-holiday.yaml"
expect_fail "a bad holiday names the field" 'BusinessCalendar "krx": holidays\[2\]: "2026-13-01" is not a valid date$' \
	-- next --schedule "0 9 * * *" --calendar "$tmp/bad-holiday.yaml"
printf 'kind: BusinessCalendar\nspec: {timeZone: [UTC\n' >"$tmp/broken.yaml"
expect_fail "a calendar file that is not YAML" '^kubectl takt next: invalid --calendar .*broken.yaml: line [0-9]+, column [0-9]+: ' \
	-- next --schedule "0 9 * * *" --calendar "$tmp/broken.yaml"
expect_fail "a manifest without a BusinessCalendar" 'no BusinessCalendar in it$' -- next --schedule "0 9 * * *" --calendar "$tmp/cm.yaml"
expect_fail "a missing calendar file" 'cannot read /nonexistent.yaml: No such file or directory' -- next --schedule "0 9 * * *" --calendar /nonexistent.yaml

# --- -f: the example schedules -------------------------------------------
expect_out "-f month-ends.yaml: the first and last business days" \
"2026-01-02T00:00:00Z
2026-01-30T00:00:00Z
2026-02-02T00:00:00Z
2026-02-27T00:00:00Z" "" -- next -f examples/month-ends.yaml --calendar $KRX --from 2026-01-01T00:00:00Z --count 4
expect_out "-f business-hours-5s.yaml --name market-hours: 09:00:00 every 5 s on 2 Jan" \
"2026-01-02T00:00:00Z
2026-01-02T00:00:05Z
2026-01-02T00:00:10Z" "" -- next -f examples/business-hours-5s.yaml --name market-hours --calendar $KRX --from 2025-12-31T23:59:59Z --count 3
expect_out "-f business-hours-5s.yaml --name market-hours-close: 15:29:55, then 15:00 after Seollal" \
"2026-02-13T06:29:55Z
2026-02-19T06:00:00Z" "" -- next -f examples/business-hours-5s.yaml --name market-hours-close --calendar $KRX --from 2026-02-13T06:29:50Z --count 2
expect_out "flags override the manifest's rules" \
"2026-01-30T00:00:00Z" "" -- next -f examples/month-ends.yaml --calendar $KRX --business-day-of-month -1 --from 2026-01-01T00:00:00Z --count 1
cat examples/month-ends.yaml >"$tmp/both.yaml"
printf -- '---\n' >>"$tmp/both.yaml"
cat $KRX >>"$tmp/both.yaml"
expect_out "-f with the BusinessCalendar in the same file" "2026-01-02T00:00:00Z" "" -- next -f "$tmp/both.yaml" --from 2026-01-01T00:00:00Z --count 1
expect_fail "-f naming a calendar, none given" 'the schedule uses BusinessCalendar "krx": give its manifest with --calendar MANIFEST' \
	-- next -f examples/month-ends.yaml
expect_fail "-f holding two schedules" '2 BatchSchedules in it \("market-hours", "market-hours-close"\); choose one with --name$' \
	-- next -f examples/business-hours-5s.yaml --calendar $KRX
expect_fail "-f naming another calendar than --calendar's" 'no BusinessCalendar named "krx" in it \(it holds "krx-table"\)' \
	-- next -f examples/month-ends.yaml --calendar $TABLE

# --- flags ----------------------------------------------------------------
expect_fail "rule flags need a calendar" '^kubectl takt next: --days needs a calendar \(--calendar MANIFEST\)$' \
	-- next --schedule "0 9 * * *" --days BusinessDays
expect_fail "a bad --on-non-business-day" '^kubectl takt next: invalid --on-non-business-day: .*"Later"' \
	-- next --schedule "0 9 * * *" --calendar $KRX --on-non-business-day Later
expect_fail "@every slots cannot be moved" 'cannot move @every slots' \
	-- next --schedule "@every 5s" --calendar $KRX --on-non-business-day NextBusinessDay
exit $failed
