#!/usr/bin/env bash
# The example alerting rules (deploy/monitoring/takt-alerts.yaml, explained
# in docs/operations.md): `promtool check rules` accepts them, every metric
# they read is one takt-controller exports, and `promtool test rules`
# (tests/e2e/takt-alerts.test.yaml) shows each alert quiet on a healthy
# series and firing on the series that should raise it. No cluster needed.
. "$(dirname "$0")/lib.sh"
T_NO_DUMP=1
RULES=$T_ROOT/deploy/monitoring/takt-alerts.yaml
P=$(bash "$T_ROOT/scripts/prometheus.sh") || {
	t_fail "promtool available (scripts/prometheus.sh)"
	t_done
}
t_ok "promtool check rules accepts the example alerts" "$P/promtool" check rules "$RULES"

# Every takt_ name in the rules is exported (controller_metrics writes it).
missing=""
for m in $(grep -oE 'takt_[a-z_]+' "$RULES" | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
	grep -q "\"$m\"" "$T_ROOT"/pkg/controller/controller.c || missing="$missing $m"
done
t_is "every metric the rules read is exported" "${missing# }" ""

# promtool compares annotations when testing: a copy without them.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^        annotations:/ { skip = 1; next }
     skip && /^          / { next }
     { skip = 0; print }' "$RULES" >"$work/takt-alerts.yaml"
cp "$T_ROOT/tests/e2e/takt-alerts.test.yaml" "$work/"
out=$(cd "$work" && "$P/promtool" test rules takt-alerts.test.yaml 2>&1)
rc=$?
if [ $rc -eq 0 ]; then t_pass "promtool test rules: each alert quiet when healthy, firing when due"; else t_fail "promtool test rules" "$out"; fi
t_done
