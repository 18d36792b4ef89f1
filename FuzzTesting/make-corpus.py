#!/usr/bin/env python3
"""Writes the committed seed corpus FuzzTesting/Corpus/<target>/ (docs/FUZZING.md).

Seeds are small slices of the repository's own sample traces, reports and test fixtures
(Traces/, Reports/, Tests/Fixtures/), plus small inputs written here for what those lack
(every CSV dialect, vscsi v1 and v2, blktrace in both byte orders, compressed native traces).
Run from anywhere: python3 FuzzTesting/make-corpus.py. Needs the zstd and gzip commands.
"""

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "FuzzTesting", "Corpus")


def path(*parts):
    return os.path.join(ROOT, *parts)


def seed(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def head_lines(file, count):
    with open(file, "rb") as f:
        return b"".join(f.readlines()[:count])


def fixture(*parts):
    """A file under Tests/Fixtures, or None while it does not exist."""
    p = path("Tests", "Fixtures", *parts)
    return p if os.path.exists(p) else None


# --- hvreplay's CSV and native traces -------------------------------------------------------

CSV_HEADER = "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns"
KINDS = {"disk": 0, "net": 1, "cpu": 2}
OPS = {"read": 0, "write": 1, "flush": 2, "barrier": 3, "discard": 4, "tx": 5, "rx": 6, "burst": 7}

SMALL_CSV = "\n".join([
    CSV_HEADER,
    "# meta producer=make-corpus.py",
    "# meta command=hvreplay synth --profile oltp",
    "# a comment",
    "0,1,0,disk,read,0,4096,4096,50000",
    "",
    "10,1,1,disk,write,1,8192,512,70000",
    "20,2,0,disk,flush,0,0,0,1000",
    "25,2,0,disk,barrier,0,0,0,0",
    "30,2,0,disk,discard,0,1048576,65536,2000",
    "40,3,0,net,tx,0,0,1500,3000",
    "40,3,0,net,rx,0,0,64,3000",
    "35,4,2,cpu,burst,0,0,0,250000",
    " 50 , 1 , 0 , disk , read , 0 , 0 , 4096 , 1 ",
    "18446744073709551615,65535,65535,disk,write,65535,18446744073709551615,4294967295,18446744073709551615",
]) + "\n"


def native(metadata, events):
    """A native .hvt trace (docs/TRACE-FORMAT.md) holding `events` as CSV field lists."""
    text = "".join(f"{k}={v}\n" for k, v in metadata).encode()
    header = b"\x89HVT\r\n\x1a\n" + struct.pack("<HHI", 1, 40, len(text)) + text
    header += b"\0" * (-len(header) % 8)
    records = b""
    for e in events:
        t, vm, vcpu, kind, op, device, offset, size, service = e
        records += struct.pack(
            "<QQQIHHHBBI", int(t), int(offset), int(service), int(size), int(vm), int(vcpu),
            int(device), KINDS[kind], OPS[op], 0)
    end = struct.pack("<QQQIHHHBBI", len(events), 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0)
    return header + records + end


def csv_events(text, limit):
    rows = []
    for line in text.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        rows.append([f.strip() for f in line.split(",")])
        if len(rows) == limit:
            break
    rows.sort(key=lambda r: int(r[0]))
    return rows


def compress(command, data):
    return subprocess.run(command, input=data, stdout=subprocess.PIPE, check=True).stdout


def traces():
    oltp = head_lines(path("Traces", "oltp-small.csv"), 60)
    seed("FuzzCSVTrace", "oltp-small-head.csv", oltp)
    seed("FuzzCSVTrace", "every-op.csv", SMALL_CSV)
    seed("FuzzCSVTrace", "crlf-bom.csv", "\ufeff" + SMALL_CSV.replace("\n", "\r\n"))
    seed("FuzzCSVTrace", "header-only.csv", CSV_HEADER + "\n# meta seed=1\n")

    meta = [("producer", "make-corpus.py"), ("profile", "oltp")]
    every = native(meta, csv_events(SMALL_CSV, 100))
    seed("FuzzNativeTrace", "every-op.hvt", every)
    seed("FuzzNativeTrace", "oltp-head.hvt", native([], csv_events(oltp.decode(), 40)))
    seed("FuzzNativeTrace", "empty.hvt", native(meta, []))
    seed("FuzzNativeTrace", "every-op.hvt.zst", compress(["zstd", "-q", "-c"], every))
    seed("FuzzNativeTrace", "every-op.hvt.gz", gzip.compress(every, mtime=0))
    seed("FuzzCSVTrace", "every-op.csv.zst", compress(["zstd", "-q", "-c"], SMALL_CSV.encode()))


# --- importers ------------------------------------------------------------------------------

def blktrace():
    source = fixture("blktrace-nvme", "sample.blktrace.0")
    records = []
    if source:
        data = open(source, "rb").read()
        at = 0
        while at + 48 <= len(data) and len(records) < 40:
            pdu = struct.unpack_from("<H", data, at + 46)[0]
            records.append(data[at:at + 48 + pdu])
            at += 48 + pdu
    else:  # Q, D and C of two requests, written here.
        for i, (action, t) in enumerate([(1, 0), (6, 100), (8, 5000), (1, 200), (6, 300), (8, 9000)]):
            sector = 2048 * (i // 3)
            records.append(struct.pack(
                "<IIQQIIIIIHH", 0x65617407, i, t, sector, 4096, (1 << 16) | action, 99,
                (259 << 20), 0, 0, 0))
    little = b"".join(records)
    seed("FuzzBlktrace", "nvme-head.blktrace.0", little)
    # The same records in the other byte order.
    big = b""
    for r in records:
        fields = struct.unpack_from("<IIQQIIIIIHH", r)
        big += struct.pack(">IIQQIIIIIHH", *fields) + r[48:]
    seed("FuzzBlktrace", "nvme-head-swapped.blktrace.0", big)

    text = fixture("blktrace-nvme", "sample.blkparse.txt")
    if text:
        seed("FuzzBlkparse", "nvme-head.txt", head_lines(text, 80))
    seed("FuzzBlkparse", "written.txt", "\n".join([
        "  8,0    0        1     0.000000000  4162  Q  WS 1000 + 8 [fio]",
        "  8,0    0        2     0.000001000  4162  G  WS 1000 + 8 [fio]",
        "  8,0    0        3     0.000002000  4162  D  WS 1000 + 8 [fio]",
        "  8,0    1        4     0.000100000     0  C  WS 1000 + 8 [0]",
        "  8,0    0        5     0.000200000  4162  Q  FWS [fio]",
        "  8,0    0        6     0.000300000  4162  C  FWS 0 [0]",
        "  8,0    0        7     0.000400000  4162  Q   D 2048 + 16 [fio]",
        "  8,0    0        8     0.000500000  4162  C   D 2048 + 16 [0]",
        "CPU0 (8,0):",
        " Reads Queued:           0,        0KiB\t Writes Queued:           1,        4KiB",
    ]) + "\n")


def fio():
    recorded = fixture("fio", "randrw.iolog")
    if recorded:
        seed("FuzzFioLog", "randrw.iolog", open(recorded, "rb").read())
    seed("FuzzFioLog", "v2.iolog", "\n".join([
        "fio version 2 iolog",
        "/tmp/a add",
        "/tmp/a open",
        "/tmp/a write 0 4096",
        "/tmp/a wait 100",
        "/tmp/a read 4096 4096",
        "/tmp/a trim 0 8192",
        "/tmp/a sync",
        "/tmp/a datasync",
        "/tmp/a close",
    ]) + "\n")
    seed("FuzzFioLog", "v3.iolog", "\n".join([
        "fio version 3 iolog",
        "0 /dev/sdb add",
        "5 /dev/sdb open",
        "10 /dev/sdb read 0 4096",
        "12 /dev/sdc write 8192 512",
        "20 /dev/sdb sync",
        "30 /dev/sdb close",
    ]) + "\n")


def block_csv():
    seed("FuzzBlockCSV", "msr.csv", "\n".join([
        "128166372003061629,hm,0,Read,3154832384,4096,2149",
        "128166372003062000,hm,1,Write,0,512,30000",
        "128166372003070000,src2,0,Read,8192,65536,100",
    ]) + "\n")
    seed("FuzzBlockCSV", "systor.csv", "\n".join([
        "Timestamp,Response,IOType,LUN,Offset,Size",
        "1486430130.457,0.000254,R,0,4509696,8192",
        "1486430130.4572,0.0001,W,1,0,4096",
        "1486430131,0.5,R,0,1024,512",
    ]) + "\n")
    seed("FuzzBlockCSV", "alibaba.csv", "\n".join([
        "419,W,8527676416,4096,1577808000000191",
        "419,R,0,512,1577808000000200",
        "7,W,4096,65536,1577808000001000",
    ]) + "\n")
    seed("FuzzBlockCSV", "tencent.csv", "\n".join([
        "1538323200,12920,8,1,1063",
        "1538323200,0,1,0,1063",
        "1538323201,4096,128,0,7",
    ]) + "\n")


def vscsi():
    v1 = b"".join(
        struct.pack("<IIIHHQQ", i, 4096, 1, cmd, 0x0100, 8 * i, 1000 + 10 * i)
        for i, cmd in enumerate([0x28, 0x2A, 0x35, 0x42, 0x12, 0x88]))
    v2 = b"".join(
        struct.pack("<HHIIIQQQ", cmd, 0x0200, i, 4096, 1, 8 * i, 1000 + 10 * i, 50 + i)
        for i, cmd in enumerate([0x28, 0x2A, 0x91, 0x42, 0x00, 0x8A]))
    seed("FuzzVSCSI", "v1.vscsi", v1)
    seed("FuzzVSCSI", "v2.vscsi", v2)


def sched():
    android = fixture("ftrace-android", "trace-android-sched")
    if android:
        seed("FuzzSchedText", "android-head.txt", head_lines(android, 60))
    seed("FuzzSchedText", "perf-script.txt", "\n".join([
        "    swapper     0 [000]  1000.000000: sched:sched_wakeup: comm=worker pid=42 prio=120 target_cpu=000",
        "    swapper     0 [000]  1000.000010: sched:sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=worker next_pid=42 next_prio=120",
        "     worker    42 [000]  1000.000500: sched:sched_switch: prev_comm=worker prev_pid=42 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120",
        "     worker    43 [001]  1000.000600: sched:sched_wakeup_new: comm=child pid=44 prio=120 target_cpu=001",
    ]) + "\n")
    seed("FuzzSchedText", "trace-cmd.txt", "\n".join([
        "cpus=2",
        "          <idle>-0     [001]   200.000001: sched_wakeup:         bash:7 [120] success=1 CPU:001",
        "          <idle>-0     [001]   200.000002: sched_switch:         swapper/1:0 [120] R ==> bash:7 [120]",
        "            bash-7     [001]   200.001000: sched_switch:         bash:7 [120] S ==> swapper/1:0 [120]",
        "            bash-7     (    7) [001] d..3 200.001500: sched_switch: prev_comm=bash prev_pid=7 prev_prio=120 prev_state=R+ ==> next_comm=swapper/1 next_pid=0 next_prio=120",
    ]) + "\n")


def detect():
    """Every trace seed, for the target that decides the format by content."""
    for target in ["FuzzCSVTrace", "FuzzNativeTrace", "FuzzBlktrace", "FuzzBlkparse", "FuzzFioLog",
                   "FuzzBlockCSV", "FuzzVSCSI", "FuzzSchedText"]:
        folder = os.path.join(CORPUS, target)
        for name in sorted(os.listdir(folder)):
            seed("FuzzDetect", f"{target}-{name}", open(os.path.join(folder, name), "rb").read())


# --- report.json and models -----------------------------------------------------------------

def reports():
    for name in ["oltp-small", "stream", "tick-evasion"]:
        text = open(path("Reports", name, "report.json"), "rb").read()
        seed("FuzzReportJSON", f"{name}.json", text)
        model = json.loads(text)["model"]
        seed("FuzzModelJSON", f"{name}-model.json", json.dumps(model, indent=2) + "\n")
    seed("FuzzModelJSON", "partial.json", '{"vms": {"1": {"weight": 512, "cap_pct": 50}}}\n')
    seed("FuzzModelJSON", "empty.json", "{}\n")


def main():
    if os.path.exists(CORPUS):
        shutil.rmtree(CORPUS)
    traces()
    blktrace()
    fio()
    block_csv()
    vscsi()
    sched()
    detect()
    reports()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print(f"{CORPUS}: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
