#!/usr/bin/env bash
# The CRDs' schemas (crds/*.yaml) as the apiserver serves them: the retry and
# history fields refuse what they cannot take at `kubectl apply` time, with a
# message naming the field; the contract's example is accepted; and every
# field of both CRDs, old and new, spec and status, has a description, so
# `kubectl explain` is a way to read the API. No controller runs here: these
# are the apiserver's checks.
. "$(dirname "$0")/lib.sh"

t_ns_create schema21 || t_done

# bs RETRY_YAML [EXTRA_SPEC_YAML]: a BatchSchedule `s` with that retry,
# applied server-side (the apiserver validates, nothing is stored).
bs() {
	kn apply --dry-run=server -f - <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: s}
spec:
  schedule: "0 0 7 * * *"
  retry: $1
${2:-}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox}]
EOF
}
# refused DESC RETRY_YAML FIELD_RE [EXTRA]: the apply fails and says why, naming the field.
refused() {
	local out rc
	out=$(bs "$2" "${4:-}" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$3"; then
		t_pass "$1"
	else
		t_fail "$1" "exit status $rc, expected a refusal matching: $3" "$out"
	fi
}

# The contract's example ("Retries of failed runs"), and the other forms.
t_ok "the contract's retry example is accepted" \
	bs '{after: ["30m", "10:00"], limit: 2, notAfter: "11:00", onExitCodes: [1, 75]}'
t_ok "durations 1h30m, 90s, 2h and a time with seconds 23:59:59 are accepted" \
	bs '{after: ["1h30m", "90s", "2h", "23:59:59", "00:00"]}'
t_ok "runHistoryLimit 0 is accepted" bs '{after: ["5m"]}' '  runHistoryLimit: 0'
t_ok "runHistoryLimit 100 is accepted" bs '{after: ["5m"]}' '  runHistoryLimit: 100'

refused "after 25:00 is refused, naming spec.retry.after" '{after: ["25:00"]}' 'spec\.retry\.after\[0\].*should match'
refused "after 10:60 is refused" '{after: ["10:60"]}' 'spec\.retry\.after\[0\]'
refused "after 30 (no unit) is refused" '{after: ["30"]}' 'spec\.retry\.after\[0\]'
refused "after 1.5h (a fraction) is refused" '{after: ["1.5h"]}' 'spec\.retry\.after\[0\]'
refused "an empty after is refused" '{after: []}' 'spec\.retry\.after'
refused "limit -1 is refused, naming spec.retry.limit" '{after: ["30m"], limit: -1}' 'spec\.retry\.limit.*greater than or equal to 0'
refused "limit 101 is refused" '{after: ["30m"], limit: 101}' 'spec\.retry\.limit.*less than or equal to 100'
refused "notAfter 24:00 is refused" '{after: ["30m"], notAfter: "24:00"}' 'spec\.retry\.notAfter'
refused "onExitCodes 256 is refused" '{after: ["30m"], onExitCodes: [256]}' 'spec\.retry\.onExitCodes\[0\].*less than or equal to 255'
refused "runHistoryLimit 101 is refused" '{after: ["30m"]}' 'spec\.runHistoryLimit.*less than or equal to 100' '  runHistoryLimit: 101'

# docs/runs.md's example, as a user would apply it (the apiserver validates
# it, nothing is stored).
for ex in examples/calendars/krx-2026.yaml examples/daily-collection.yaml; do
	t_ok "$ex is accepted (server-side dry run)" kn apply --dry-run=server -f "$T_ROOT/$ex"
done

# docs/runs.md shows the example without its comments: the same YAML.
t_is "docs/runs.md's example is examples/daily-collection.yaml" \
	"$(awk '/^```yaml$/ { f = 1; next } /^```$/ { if (f) exit } f' "$T_ROOT/docs/runs.md")" \
	"$(grep -v '^#' "$T_ROOT/examples/daily-collection.yaml")"

# Defaults the apiserver fills in: runHistoryLimit 20.
got=$(kn apply --dry-run=server -o jsonpath='{.spec.runHistoryLimit}' -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BatchSchedule", "metadata": {"name": "s"},
 "spec": {"schedule": "@daily", "jobTemplate": {"spec": {}}}}
EOF
)
t_is "runHistoryLimit defaults to 20" "$got" 20

# Every property of both CRDs' served schemas has a description (metadata
# excepted: the apiserver forbids describing it in a CRD and explains
# ObjectMeta itself).
undescribed() { # undescribed CRD: the JSON paths of properties without a description
	kubectl get crd "$1" -o json | jq -r '
		.spec.versions[].schema.openAPIV3Schema
		| paths(objects) as $p
		| select($p | length >= 2 and .[-2] == "properties" and .[-1] != "metadata")
		| select(getpath($p) | has("description") | not)
		| $p | map(tostring) | join(".")' 2>&1
}
for crd in batchschedules.takt.io businesscalendars.takt.io; do
	t_is "$crd: every field has a description" "$(undescribed "$crd")" ""
	n=$(kubectl get crd "$crd" -o json | jq '[.spec.versions[].schema.openAPIV3Schema | paths(objects) | select(length >= 2 and .[-2] == "properties")] | length')
	t_cmp "$crd: the walk saw the fields ($n)" "$n" -ge 20
done
# kubectl explain, as a user reads it: every object field of both kinds
# (arrays of objects included), and none says <no description> or <empty>.
explained() { # explained KIND CRD: the explain paths with a field left undescribed
	local path out
	for path in $(kubectl get crd "$2" -o json | jq -r '
		.spec.versions[0].schema.openAPIV3Schema
		| paths(objects) as $p | select(getpath($p) | has("properties"))
		| [$p[] | strings | select(. != "properties" and . != "items")]
		| select(index("metadata") | not) | join(".")'); do
		out=$(kubectl explain "$1${path:+.$path}" 2>&1) || { echo "$1.$path: $out"; continue; }
		printf '%s' "$out" | grep -Eq '<no description>|<empty>' && echo "$1.$path"
	done
}
t_is "kubectl explain: every BatchSchedule field described" "$(explained bs batchschedules.takt.io)" ""
t_is "kubectl explain: every BusinessCalendar field described" "$(explained bcal businesscalendars.takt.io)" ""
ex=$(kubectl explain bs.spec.retry 2>&1)
t_like "kubectl explain bs.spec.retry describes it" "$ex" 'retry a failed run for the same slot'
t_like "kubectl explain bs.spec.retry describes after" "$ex" 'a duration after the failed'
t_like "kubectl explain bs.status.recentRuns describes it" \
	"$(kubectl explain bs.status.recentRuns 2>&1)" 'outlives the Jobs'

t_done
