#!/bin/sh
# The style check CI runs (STYLE.md rules 1 and 19): C lines within 80
# columns with tabs at 8, and none of the banned functions.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

files=$(git ls-files --cached --others --exclude-standard \
    'src/*.[ch]' 'hal/*.[ch]' 'boards/*.[ch]' \
    'tests/*.[ch]' 2>/dev/null || find src hal boards tests -name '*.[ch]')
status=0
for f in $files; do
	expand -t 8 "$f" | awk -v f="$f" 'length($0) > 80 {
		printf "%s:%d: line over 80 columns (%d)\n", f, NR, length($0)
		bad = 1 } END { exit bad }' || status=1
done
# Word-bounded calls of banned functions, outside comments and strings
# (a rough filter: the line is skipped if the name only appears quoted).
banned='strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok'
if grep -nE "(^|[^a-z_.>])($banned)[[:space:]]*\(" $files |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)'; then
	echo "checkstyle: banned function used (STYLE.md rule 19)" >&2
	status=1
fi
[ $status -eq 0 ] && echo "checkstyle: ok"
exit $status
