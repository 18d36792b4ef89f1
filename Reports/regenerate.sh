#!/bin/sh
# Regenerates the reports of every sample trace in Traces/ with hvreplay's default model.
# Run from the repository root: sh Reports/regenerate.sh
# A test (EndToEndTests/SampleReportTests) replays each sample and fails if any file differs.
set -eu
HVREPLAY=${HVREPLAY:-.build/release/hvreplay}
# Always rebuild (quick when up to date): a stale binary would write stale files.
[ -n "${HVREPLAY_NO_BUILD:-}" ] || swift build -c release --product hvreplay >&2
for trace in Traces/*.hvt.zst Traces/*.csv; do
  name=$(basename "$trace"); name=${name%.zst}; name=${name%.hvt}; name=${name%.csv}
  "$HVREPLAY" replay "$trace" --out "Reports/$name" --quiet > /dev/null
done
