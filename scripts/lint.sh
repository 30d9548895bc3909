#!/usr/bin/env bash
# make lint: clang-format must leave every C file unchanged, cppcheck must be
# quiet, and every .c file includes base/banned.h (the banned functions are
# poisoned there, so the compiler enforces the rest).
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
files=$(git ls-files '*.c' '*.h')
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "lint: $f is not clang-formatted (make fmt)"
		rc=1
	fi
done
for f in $(git ls-files 'pkg/*.c' 'cmd/*.c'); do
	grep -q '#include "base/banned.h"' "$f" || { echo "lint: $f does not include base/banned.h"; rc=1; }
done
cppcheck -q --error-exitcode=1 --enable=warning,portability,performance --std=c11 \
	--inline-suppr -Ipkg --suppress=missingIncludeSystem $(git ls-files 'pkg/*.c' 'cmd/*.c') || rc=1
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
