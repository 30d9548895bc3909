#!/usr/bin/env bash
# kubectl takt next: output format, defaults, exit codes and error lines.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-bin}/kubectl-takt
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# expect_out <name> <expected stdout> -- args...
expect_out() {
	local name=$1 want=$2 got rc
	shift 3
	got=$("$bin" "$@" 2>/tmp/cli_next_err.$$)
	rc=$?
	if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then ok "$name"; else bad "$name" "rc=$rc" "got: $(echo "$got" | tr '\n' ' ')" "want: $(echo "$want" | tr '\n' ' ')" "stderr: $(cat /tmp/cli_next_err.$$)"; fi
}
# expect_fail <name> <stderr regex> -- args...: exit 2, nothing on stdout, one stderr line
expect_fail() {
	local name=$1 re=$2 out err rc
	shift 3
	out=$("$bin" "$@" 2>/tmp/cli_next_err.$$)
	rc=$?
	err=$(cat /tmp/cli_next_err.$$)
	if [ $rc -eq 2 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [[ $err =~ $re ]]; then
		ok "$name"
	else
		bad "$name" "rc=$rc (want 2)" "stdout: $out" "stderr: $err" "want stderr matching: $re"
	fi
}

echo "1..22"
[ -x "$bin" ] || { bad "$bin is built"; exit 1; }

expect_out "spring-forward gap: fixed time fires at the gap's end" \
"2026-03-08T07:00:00Z
2026-03-09T06:30:00Z
2026-03-10T06:30:00Z" -- next --schedule "30 2 * * *" --time-zone America/New_York --from 2026-03-07T12:00:00Z --count 3
expect_out "fall-back overlap: interval pattern fires at both occurrences" \
"2026-11-01T05:00:00Z
2026-11-01T05:30:00Z
2026-11-01T06:00:00Z
2026-11-01T06:30:00Z
2026-11-02T06:00:00Z" -- next --schedule "*/30 1 * * *" --time-zone America/New_York --from 2026-11-01T04:00:00Z
expect_out "default count is 5 and default zone UTC" \
"2026-01-01T00:01:00Z
2026-01-01T00:02:00Z
2026-01-01T00:03:00Z
2026-01-01T00:04:00Z
2026-01-01T00:05:00Z" -- next --schedule "* * * * *" --from 2026-01-01T00:00:00Z
expect_out "strictly after --from" "2026-01-01T00:00:01Z" -- next --schedule "* * * * * *" --from 2026-01-01T00:00:00Z --count 1
expect_out "fractional --from counts from within its second" "2026-01-01T00:00:01Z" -- next --schedule "* * * * * *" --from 2026-01-01T00:00:00.500Z --count 1
expect_out "--from with an offset" "2026-03-08T00:00:00Z" -- next --schedule "@daily" --from 2026-03-07T10:00:00+09:00 --count 1
expect_out "--opt=value form and @every" \
"2026-01-01T00:01:30Z
2026-01-01T00:03:00Z" -- next --schedule=@every\ 1m30s --from=2026-01-01T00:00:00Z --count=2
expect_out "Kathmandu +05:45" "2026-01-01T03:15:00Z" -- next --schedule "0 9 * * *" --time-zone Asia/Kathmandu --from 2026-01-01T00:00:00Z --count 1

# Default --from is now: the first instant is in the future and within a minute.
now=$(date -u +%s)
first=$("$bin" next --schedule "* * * * *" --count 1)
ft=$(date -u -d "$first" +%s 2>/dev/null || echo 0)
if [[ $first =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00Z$ ]] && [ "$ft" -ge "$now" ] && [ "$ft" -le $((now + 61)) ]; then
	ok "default --from is now"
else
	bad "default --from is now" "got $first at $now"
fi

expect_fail "bad schedule names the field" '^kubectl takt next: invalid --schedule "61 \* \* \* \*": minute: 61 is out of range 0-59$' -- next --schedule "61 * * * *"
expect_fail "wrong field count" 'expected 5 or 6 fields, got 4' -- next --schedule "* * * *"
expect_fail "never-firing schedule" 'can never fire' -- next --schedule "0 0 30 2 *"
expect_fail "unknown zone" 'invalid --time-zone: unknown time zone "Mars/Base"' -- next --schedule "* * * * *" --time-zone Mars/Base
expect_fail "bad --from" 'invalid --from "yesterday"' -- next --schedule "* * * * *" --from yesterday
expect_fail "count 0" 'invalid --count "0"' -- next --schedule "* * * * *" --count 0
expect_fail "count not a number" 'invalid --count "5x"' -- next --schedule "* * * * *" --count 5x
expect_fail "missing --schedule" '--schedule is required' -- next
expect_fail "option without value" 'option --count needs a value' -- next --schedule "* * * * *" --count
expect_fail "unknown option" 'unknown option "--bogus"' -- next --schedule "* * * * *" --bogus
expect_fail "unknown command" 'unknown command "frobnicate"' -- frobnicate

out=$("$bin" next --help) && [[ $out == *"--schedule EXPR"* ]] && ok "next --help on stdout, exit 0" || bad "next --help on stdout, exit 0"
out=$("$bin" --help) && [[ $out == *"next"* ]] && ok "--help lists the commands" || bad "--help lists the commands"
rm -f /tmp/cli_next_err.$$
exit $failed
