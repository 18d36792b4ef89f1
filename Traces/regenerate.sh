#!/bin/sh
# Regenerates the sample traces in Traces/ with hvreplay's synth command.
# Run from the repository root: sh Traces/regenerate.sh
# A test (EndToEndTests/SampleTraceTests) runs each synth line below and checks that it
# gives the same events as the committed file.
set -eu
HVREPLAY=${HVREPLAY:-.build/release/hvreplay}
# Always rebuild (quick when up to date): a stale binary would write stale files.
[ -n "${HVREPLAY_NO_BUILD:-}" ] || swift build -c release --product hvreplay >&2
"$HVREPLAY" synth --profile oltp --seed 1 --vms 2 --duration 10s -o Traces/oltp.hvt.zst
"$HVREPLAY" synth --profile stream --seed 1 --vms 1 --duration 10s -o Traces/stream.hvt.zst
"$HVREPLAY" synth --profile net-rpc --seed 1 --vms 2 --duration 1s -o Traces/net-rpc.hvt.zst
"$HVREPLAY" synth --profile cpu-contention --seed 1 --vms 4 --vcpus 1 --duration 10s -o Traces/cpu-contention.hvt.zst
"$HVREPLAY" synth --profile mixed --seed 1 --vms 4 --rps 1000 --duration 2s -o Traces/mixed.hvt.zst
"$HVREPLAY" synth --profile tick-evasion --seed 1 --vms 3 --duration 10s -o Traces/tick-evasion.hvt.zst
"$HVREPLAY" synth --profile oltp --seed 7 --vms 1 --events 200 --commit barrier -o Traces/oltp-small.csv
