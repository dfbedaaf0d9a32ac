#!/usr/bin/env bash
# Regenerates the README's "Measured on several CPUs" table and its cross-machine figure from the
# committed reference runs (results/reference/<machine_id>/<experiment>/): per experiment, one
# machine's run is copied aside and `ffnbench report` merges it with the other machines' runs of
# the same experiment (as every user's report does); plots/reference_table.py then puts the
# claims of all experiments into one table, written between the README's reference-table markers
# and to docs/reference_table.md, and the LookupFFN speedup per machine goes to docs/figures/.
#
# usage: bash scripts/reference_figures.sh [FFNBENCH_BINARY]   (default: build/release/ffnbench, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/release/ffnbench}
[ -x "$binary" ] || bash scripts/build.sh release
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

claims_files=()
for experiment in $(for d in results/reference/*/*/; do basename "$d"; done | sort -u); do
  runs=(results/reference/*/"$experiment")
  cp -r "${runs[0]}" "$work/$experiment"
  "$binary" report "$work/$experiment" --out "$work/$experiment.md" >/dev/null
  figures="$work/$experiment/figures"
  [ -d "$work/$experiment/with_references" ] && figures="$work/$experiment/with_references/figures"
  claims_files+=("$experiment=$figures/claims.csv")
  if [ "$experiment" = lookupffn_paper ]; then
    cp "$figures/speedup_by_machine.png" docs/figures/crossmachine_lookupffn_speedup.png
  fi
done

PYTHONPATH=plots "$python" plots/reference_table.py docs/reference_table.md "${claims_files[@]}" >/dev/null
# The README holds the table between its markers; everything else in it stays as it is.
"$python" - README.md docs/reference_table.md <<'PY'
import sys
readme, table = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
begin, end = "<!-- reference-table:begin -->", "<!-- reference-table:end -->"
if begin not in text or end not in text:
    sys.exit(f"reference_figures: {readme} has no {begin} ... {end} markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + table + end + tail)
PY
echo "reference_figures: docs/reference_table.md, docs/figures/crossmachine_lookupffn_speedup.png, README.md"
