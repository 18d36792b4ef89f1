#!/usr/bin/env python3
"""hvreplay's speed and memory benchmarks, run on demand (never by the test suite).

    python3 Benchmarks/bench.py [--events N] [--runs R] [pipeline] [replay] [sweep] [scale] [blktrace]

pipeline: reading a .hvt.zst (inspect) against zstd -dc, CSV parse rate, memory.
replay:   the default replay (every design under both schedulers) against zstd -dc, each
          host simulation alone (with and without the trace's cpu events), memory.
sweep:    a sweep of 8 settings against one replay of the same design and scheduler.
scale:    replays of 10,000 and 100,000 channels (peak memory) and of 1,000,000 requests
          arriving at one instant through para (time), against zstd -c on the same CSV.
blktrace: importing blktrace binary against blkparse on the same file (the NVMe sample in
          Tests/Fixtures/blktrace-nvme repeated with shifted timestamps), time and memory.

Builds hvreplay in release mode, generates the inputs with `hvreplay synth` into
Benchmarks/work/ (git-ignored), and times each command side by side with its reference in
the same run, alternating runs and keeping the median wall time of each (the best for the
process-start-bound imports). Peak memory is the child's maximum resident set size (wait4).
Targets (from the issues, named) are printed beside each figure with the measured ratio;
the script exits 1 when a target is missed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "Benchmarks", "work")
HVREPLAY = os.path.join(ROOT, ".build", "release", "hvreplay")


class Failed(Exception):
    """A measured command that exited non-zero (its standard error's first line)."""


def run(argv, stdout=subprocess.DEVNULL, stdin=None):
    """Runs argv; returns (seconds, peak RSS in MiB); raises Failed when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stdin=stdin, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise Failed(f"{os.path.basename(argv[0])} exited {os.waitstatus_to_exitcode(status)}: "
                     f"{err.strip().splitlines()[-1] if err.strip() else 'no message'}")
    return elapsed, usage.ru_maxrss / 1024


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def best(argv, runs, **kw):
    """Median wall time of `runs` runs, and the largest peak memory."""
    results = [run(argv, **kw) for _ in range(runs)]
    return median([r[0] for r in results]), max(r[1] for r in results)


def side_by_side(a, b, runs, pick=median):
    """Alternates a and b, so both see the same machine state; the median time of each
    (or `pick`'s choice) and the largest peak memory."""
    ra, rb = [], []
    for _ in range(runs):
        ra.append(run(a))
        rb.append(run(b))
    return (pick([x[0] for x in ra]), max(x[1] for x in ra)), (pick([x[0] for x in rb]), max(x[1] for x in rb))


def synth(name, events, profile="mixed", extra=()):
    path = os.path.join(WORK, name)
    if not os.path.exists(path):
        run([HVREPLAY, "synth", "--profile", profile, "--events", str(events), *extra, "-o", path])
    return path


failures = []


def check(label, ok, figure, target):
    mark = "ok  " if ok else "MISS"
    print(f"  [{mark}] {label}: {figure} (target {target})")
    if not ok:
        failures.append(label)


def pipeline(events, runs):
    print(f"# trace pipeline: {events:,} events of the mixed profile")
    hvt_zst = synth(f"mixed-{events}.hvt.zst", events, extra=["--rps", "1000"])
    csv = os.path.join(WORK, f"mixed-{events}.csv")
    if not os.path.exists(csv):
        run([HVREPLAY, "convert", hvt_zst, csv])
    (hv, hv_mem), (zs, _) = side_by_side(
        [HVREPLAY, "inspect", hvt_zst], ["sh", "-c", f"zstd -dc '{hvt_zst}' > /dev/null"], runs)
    size = os.path.getsize(hvt_zst)
    print(f"  .hvt.zst: {size / 2**20:.1f} MiB compressed")
    print(f"  zstd -dc FILE > /dev/null: {zs:.3f} s")
    print(f"  hvreplay inspect FILE:     {hv:.3f} s ({events / hv / 1e6:.1f} M events/s), peak {hv_mem:.1f} MiB")
    check("inspect .hvt.zst / zstd -dc (issue 15)", hv / zs <= 1.0, f"{hv / zs:.2f}x", "<= 1.0x")
    t, mem = best([HVREPLAY, "inspect", csv], runs)
    mbps = os.path.getsize(csv) / t / 1e6
    print(f"  hvreplay inspect CSV ({os.path.getsize(csv) / 1e6:.0f} MB): {t:.3f} s, peak {mem:.1f} MiB")
    check("CSV parse rate", mbps >= 100, f"{mbps:.0f} MB/s", ">= 100 MB/s")
    check("peak memory reading .hvt.zst", hv_mem < 32, f"{hv_mem:.1f} MiB", "< 32 MiB")
    # Memory must not grow with trace length: a trace a tenth as long.
    small = synth(f"mixed-{events // 10}.hvt.zst", events // 10, extra=["--rps", "1000"])
    _, small_mem = best([HVREPLAY, "inspect", small], 1)
    check("memory flat over 10x trace length", hv_mem <= small_mem * 1.1 + 1,
          f"{small_mem:.1f} MiB at {events // 10:,} events, {hv_mem:.1f} MiB at {events:,}", "flat")


DESIGNS = ("native", "full", "para", "virtio", "vhost", "passthrough")
SCHEDULERS = ("credit", "fair")


def without_cpu(hvt_zst):
    """The same trace with its cpu events left out (through CSV, cached)."""
    path = hvt_zst.replace(".hvt.zst", "-nocpu.hvt.zst")
    if os.path.exists(path):
        return path
    csv, kept = path + ".all.csv", path + ".csv"
    run([HVREPLAY, "convert", hvt_zst, csv])
    with open(csv) as src, open(kept, "w") as dst:
        header = src.readline()
        dst.write(header)
        kind = header.strip().split(",").index("kind")
        for line in src:
            if line.startswith("#") or line.split(",", kind + 1)[kind] != "cpu":
                dst.write(line)
    run([HVREPLAY, "convert", kept, path + ".tmp.hvt.zst"])
    os.rename(path + ".tmp.hvt.zst", path)
    os.remove(csv)
    os.remove(kept)
    return path


def replay(events, runs):
    print(f"# replay: {events:,} events of the mixed profile through every design, each on a host under credit and fair")
    hvt_zst = synth(f"mixed-{events}.hvt.zst", events, extra=["--rps", "1000"])
    out = os.path.join(WORK, "replay-report")
    (hv, hv_mem), (zs, _) = side_by_side(
        [HVREPLAY, "replay", hvt_zst, "--out", out, "--quiet"],
        ["sh", "-c", f"zstd -dc '{hvt_zst}' > /dev/null"], runs)
    print(f"  zstd -dc FILE > /dev/null: {zs:.3f} s")
    print(f"  hvreplay replay FILE:      {hv:.3f} s ({events / hv / 1e6:.2f} M events/s), peak {hv_mem:.1f} MiB")
    check("default replay (12 host simulations) / zstd -dc (issue 15)", hv / zs <= 3,
          f"{hv / zs:.2f}x", "<= 3x")
    # One host timeline per backend and scheduler, each alone (issue 11: 3M events/s each;
    # issue 15: 10M events/s, and 15M open-loop without cpu events).
    nocpu = without_cpu(hvt_zst)
    print(f"  each host simulation alone (--backends B --schedulers S), median of {runs}; "
          f"open loop without cpu events: {nocpu}")
    for backend in DESIGNS:
        for scheduler in SCHEDULERS:
            name = f"{backend}/{scheduler}"
            args = ["--out", out, "--quiet", "--backends", backend, "--schedulers", scheduler]
            t, _ = best([HVREPLAY, "replay", hvt_zst, *args], runs)
            rate = events / t / 1e6
            check(f"host simulation {name} (issue 11)", rate >= 3, f"{rate:.2f} M events/s ({t:.3f} s)", ">= 3 M events/s")
            check(f"host simulation {name} (issue 15)", rate >= 10, f"{rate / 10:.2f}x of target", ">= 10 M events/s")
            t, _ = best([HVREPLAY, "replay", nocpu, "--loop", "open", *args], runs)
            n = events - cpu_events(hvt_zst)
            rate = n / t / 1e6
            check(f"host simulation {name}, open loop, no cpu events (issue 15)", rate >= 15,
                  f"{rate:.2f} M events/s ({t:.3f} s, {rate / 15:.2f}x of target)", ">= 15 M events/s")
    small = synth(f"mixed-{events // 10}.hvt.zst", events // 10, extra=["--rps", "1000"])
    _, small_mem = best([HVREPLAY, "replay", small, "--out", out, "--quiet"], 1)
    check("replay memory flat over 10x trace length", hv_mem <= small_mem * 1.1 + 1,
          f"{small_mem:.1f} MiB at {events // 10:,} events, {hv_mem:.1f} MiB at {events:,}", "flat")


def cpu_events(hvt_zst):
    """The trace's cpu events, as inspect counts them."""
    text = subprocess.run([HVREPLAY, "inspect", hvt_zst], capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["cpu:"]:
            return int(parts[1])
    return 0


def sweep(events, runs):
    """Issue 15: a sweep of 8 combinations takes at most 8 / cores x one replay, plus 10%."""
    hvt_zst = synth(f"mixed-{events}.hvt.zst", events, extra=["--rps", "1000"])
    cores = os.cpu_count() or 1
    values = ",".join(str(20_000 + 5_000 * i) for i in range(8))
    design = ["--backends", "para", "--schedulers", "credit"]
    print(f"# sweep: 8 values of devices.disk.base_service_ns, para under credit, {events:,} events, {cores} cores")
    out = os.path.join(WORK, "sweep-report")
    (sw, sw_mem), (one, _) = side_by_side(
        [HVREPLAY, "sweep", hvt_zst, "--set", f"devices.disk.base_service_ns={values}", "--out", out, "--quiet", *design],
        [HVREPLAY, "replay", hvt_zst, "--out", os.path.join(WORK, "replay-report"), "--quiet", *design], runs)
    limit = 8 / cores * one * 1.1
    print(f"  one replay: {one:.3f} s; sweep of 8: {sw:.3f} s, peak {sw_mem:.1f} MiB")
    check("sweep of 8 / (8 / cores x one replay) (issue 15)", sw <= limit,
          f"{sw / (8 / cores * one):.2f}x", "<= 1.10x")


HEADER = "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns\n"


def channels_csv(channels, per_channel=3):
    """`per_channel` reads on each of `channels` disks (one disk per VM, up to 60,000 VMs)."""
    path = os.path.join(WORK, f"channels-{channels}.csv")
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            f.write(HEADER)
            for i in range(channels * per_channel):
                c = i % channels
                f.write(f"{i * 1000},{c % 60000 + 1},0,disk,read,{c // 60000},0,4096,"
                        f"{20000 + (i * 7919) % 200000}\n")
        os.rename(path + ".tmp", path)
    return path


def simultaneous_csv(requests):
    path = os.path.join(WORK, f"simultaneous-{requests}.csv")
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            f.write(HEADER)
            f.writelines(f"1000,1,0,disk,read,0,{i * 4096},4096,50000\n" for i in range(requests))
        os.rename(path + ".tmp", path)
    return path


def scale(events, runs):
    out = os.path.join(WORK, "scale-report")
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    previous = None
    for channels, target in ((10_000, 512), (100_000, 4096)):
        if previous and previous * channels / 10_000 > physical / 2:
            # Memory grows about linearly with the channels: a run that would take more than
            # half the machine is not started (it would push the machine into swap or the
            # OOM killer, not measure anything).
            check(f"peak memory, {channels:,} channels", False,
                  f"not run: about {previous * channels / 10_000:.0f} MiB expected from 10,000 channels' "
                  f"{previous:.0f} MiB, on a {physical:.0f} MiB machine", f"< {target} MiB")
            continue
        path = channels_csv(channels)
        print(f"# {channels:,} channels, 3 reads each ({os.path.getsize(path) / 1e6:.0f} MB of CSV)")
        try:
            (hv, hv_mem), (zs, zs_mem) = side_by_side(
                [HVREPLAY, "replay", path, "--out", out, "--quiet"],
                ["sh", "-c", f"zstd -c '{path}' > /dev/null"], max(1, runs // 3))
        except Failed as e:
            check(f"peak memory, {channels:,} channels", False, f"the replay failed ({e})",
                  f"< {target} MiB")
            continue
        print(f"  zstd -c FILE > /dev/null: {zs:.3f} s, peak {zs_mem:.1f} MiB")
        print(f"  hvreplay replay FILE:     {hv:.3f} s, peak {hv_mem:.1f} MiB")
        check(f"peak memory, {channels:,} channels", hv_mem < target, f"{hv_mem:.0f} MiB",
              f"< {target} MiB")
        previous = hv_mem
    path = simultaneous_csv(1_000_000)
    print("# 1,000,000 requests at one instant on one disk, through para")
    (hv, hv_mem), (zs, _) = side_by_side(
        [HVREPLAY, "replay", path, "--backends", "para", "--out", out, "--quiet"],
        ["sh", "-c", f"zstd -c '{path}' > /dev/null"], runs)
    print(f"  zstd -c FILE > /dev/null: {zs:.3f} s")
    print(f"  hvreplay replay --backends para FILE: {hv:.3f} s, peak {hv_mem:.1f} MiB")
    check("1M simultaneous requests through para", hv < 2, f"{hv:.2f} s", "< 2 s")


SAMPLE = os.path.join(ROOT, "Tests", "Fixtures", "blktrace-nvme", "sample.blktrace.0")


def big_blktrace(repeats):
    """The NVMe sample repeated with shifted timestamps (and sequence numbers)."""
    path = os.path.join(WORK, f"sample-x{repeats}.blktrace.0")
    if os.path.exists(path):
        return path
    data = open(SAMPLE, "rb").read()
    records = []
    i = 0
    while i < len(data):
        pdu = int.from_bytes(data[i + 46:i + 48], "little")
        records.append(bytearray(data[i:i + 48 + pdu]))
        i += 48 + pdu
    first = int.from_bytes(records[0][8:16], "little")
    last = int.from_bytes(records[-1][8:16], "little")
    shift = last - first + 1_000_000
    with open(path + ".tmp", "wb") as out:
        for k in range(repeats):
            chunk = bytearray()
            for n, r in enumerate(records):
                r = bytearray(r)
                t = int.from_bytes(r[8:16], "little") + k * shift
                r[8:16] = t.to_bytes(8, "little")
                r[4:8] = ((k * len(records) + n) & 0xFFFFFFFF).to_bytes(4, "little")
                chunk += r
            out.write(chunk)
    os.rename(path + ".tmp", path)
    return path


def blktrace(events, runs):
    if shutil.which("blkparse") is None:
        print("# blktrace import: skipped (apt-get install -y blktrace for blkparse)")
        return
    for repeats in (20, 200):
        path = big_blktrace(repeats)
        size = os.path.getsize(path)
        print(f"# blktrace import: the NVMe sample x{repeats} ({size / 2**20:.0f} MiB, {repeats * 963:,} requests)")
        (hv, hv_mem), (bp, bp_mem) = side_by_side(
            [HVREPLAY, "inspect", "--from", "blktrace", path],
            ["sh", "-c", f"blkparse -i - -o /dev/null < '{path}'"], runs)
        print(f"  blkparse -i - -o /dev/null: {bp:.3f} s, peak {bp_mem:.1f} MiB")
        print(f"  hvreplay inspect:           {hv:.3f} s, peak {hv_mem:.1f} MiB")
        if repeats == 20:
            print(f"  (x20 is mostly process start-up: {bp / hv:.1f}x; the target applies to x200)")
        if repeats == 200:
            check("blktrace import against blkparse", bp / hv >= 10, f"{bp / hv:.1f}x faster", ">= 10x")
            check("blktrace import memory flat", hv_mem <= small_mem * 1.1 + 1,
                  f"{small_mem:.1f} MiB at x20, {hv_mem:.1f} MiB at x200 (blkparse {small_bp:.1f} -> {bp_mem:.1f} MiB)", "flat")
        small_mem, small_bp = hv_mem, bp_mem


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("suites", nargs="*", default=["pipeline", "replay", "sweep", "scale", "blktrace"])
    args = parser.parse_args()
    for tool in ["zstd"]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install -y {tool}")
    subprocess.run(["swift", "build", "-c", "release", "--product", "hvreplay"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    os.makedirs(WORK, exist_ok=True)
    for suite in args.suites:
        try:
            {"pipeline": pipeline, "replay": replay, "sweep": sweep, "scale": scale,
             "blktrace": blktrace}[suite](args.events, args.runs)
        except Failed as e:
            sys.exit(f"{suite}: {e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
