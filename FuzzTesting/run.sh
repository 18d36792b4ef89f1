#!/usr/bin/env bash
# Builds hvreplay's fuzz targets with libFuzzer and AddressSanitizer and runs each for a
# while, one after another (docs/FUZZING.md).
#
#   FuzzTesting/run.sh [--skip-build] [--regress] [SECONDS] [TARGET...]
#
# SECONDS (default 60) is each target's -max_total_time; TARGETs default to all of them.
# --regress runs each target once over its committed corpus and the saved reproducers in
# Tests/Fixtures/fuzz/ instead of fuzzing (what CI can afford).
# Extra libFuzzer flags come from FUZZ_FLAGS, e.g. FUZZ_FLAGS="-max_len=65536"; FUZZ_CONFIG=debug
# builds the debug configuration instead of release (both keep Swift's overflow and bounds traps).
# New corpus entries, logs and crash artefacts go to FuzzTesting/.fuzz-work/ (git-ignored).
# Exits 1 when a target crashed, trapped on an invariant, leaked, timed out or ran out of memory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

build=yes
regress=no
while [[ $# -gt 0 ]]; do
  case "$1" in
    --skip-build) build=no; shift ;;
    --regress) regress=yes; shift ;;
    -h | --help) sed -n 2,13p "$0"; exit 0 ;;
    *) break ;;
  esac
done

seconds=60
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi

all=()
for dir in Sources/Fuzz*/; do
  name=$(basename "$dir")
  [[ "$name" == FuzzSupport ]] || all+=("$name")
done
if [[ $# -gt 0 ]]; then targets=("$@"); else targets=("${all[@]}"); fi
for t in "${targets[@]}"; do
  if [[ ! -d "Sources/$t" || "$t" == FuzzSupport ]]; then
    echo "run.sh: no fuzz target $t; the targets are: ${all[*]}" >&2
    exit 64
  fi
done

scratch=.build-fuzz
config=${FUZZ_CONFIG:-release}
# As swift-protobuf's FuzzTesting/do_build.sh, SwiftPM's --sanitize flags, so that it links
# libFuzzer's main instead of the executables' own; they instrument only this package's
# targets, so -Xswiftc -sanitize=fuzzer,address instruments HVReplay and its dependencies
# too; -parse-as-library because main.swift holds only the entry point.
sanitize=(--sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
  -Xswiftc -parse-as-library)
if [[ $build == yes ]]; then
  swift build -c "$config" "${sanitize[@]}" --scratch-path "$scratch" >&2
fi
bin=$(swift build -c "$config" "${sanitize[@]}" --scratch-path "$scratch" --show-bin-path)

work=.fuzz-work
status=0
total=0
printf '%-18s %12s  %s\n' target executions result
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/logs"
  log="$work/logs/$t.log"
  flags=(-print_final_stats=1 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/$t/")
  if [[ $regress == yes ]]; then
    inputs=(Corpus/"$t"/*)
    if compgen -G "../Tests/Fixtures/fuzz/$t/*" >/dev/null; then
      inputs+=(../Tests/Fixtures/fuzz/"$t"/*)
    fi
    set +e
    # shellcheck disable=SC2086
    "$bin/$t" "${flags[@]}" ${FUZZ_FLAGS:-} "${inputs[@]}" >"$log" 2>&1
    rc=$?
    set -e
    runs=${#inputs[@]}
  else
    set +e
    # shellcheck disable=SC2086
    "$bin/$t" "${flags[@]}" -max_total_time="$seconds" ${FUZZ_FLAGS:-} \
      "$work/corpus/$t" "Corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    runs=${runs:-0}
  fi
  total=$((total + runs))
  if [[ $rc -eq 0 ]]; then
    result=ok
  else
    status=1
    artefact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="FAILED (exit $rc): ${artefact:-see $log}"
  fi
  printf '%-18s %12s  %s\n' "$t" "$runs" "$result"
done
printf '%-18s %12s\n' total "$total"
exit $status
