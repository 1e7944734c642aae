#!/usr/bin/env bash
# The compiled binary against a real NVIDIA driver: the one check the fake library
# cannot stand in for. Run it on a host with a GPU (it changes no GPU setting):
#
#   bash test/bench/real-gpu.sh [BINARY] [SECONDS]     (defaults: dist/gpu_monitor, 60)
#
# It prints, and keeps in a temporary folder it names at the end:
#   1. snapshot's fields next to nvidia-smi's for the same GPU, and whether they agree;
#      PCIe throughput (TX/RX) next to `nvidia-smi dmon -s t` (rxpci/txpci) and against
#      what the current link (generation x width) can carry: live values, so put the GPU
#      under load (copies to and from it) for a comparison that means something;
#   2. the C floor's cost per NVML call (test/bench/nvml_floor.c --per-call; needs cc);
#   3. the agent at a 1 s interval for SECONDS under the systemd unit's Environment=
#      lines: CPU per thread, the memory it owns (private = Private_Clean + Private_Dirty
#      + Swap, and PSS) besides RSS at the start and the end of the window, RSS per
#      mapping, and whether libcuda got into it (it must not: see Nvml.host);
#   4. -sc, export --level hourly and status on what that agent stored;
#   5. the driver's history that agent read: how many of its samples averaged the
#      driver's buffers (nvmlDeviceGetSamples) and how many driver samples each holds
#      (1 s / that = the driver's period), busy seconds, energy source, clock-event
#      seconds, remapped rows and XIDs per window (put load on the GPU for busy time).
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$REPO/dist/gpu_monitor}")
SECONDS_RUN=${2:-60}
WORK=$(mktemp -d /tmp/gpu-monitor-real-gpu-XXXXXX)
LIB=${GPU_MONITOR_NVML_LIBRARY:-$(ldconfig -p 2>/dev/null | awk '/libnvidia-ml.so.1 /{print $NF; exit}')}
[ -n "$LIB" ] || LIB=/usr/local/nvidia/lib64/libnvidia-ml.so.1

echo "== $("$BIN" --version) against $LIB"
nvidia-smi --query-gpu=driver_version,name --format=csv,noheader

echo "== 1. snapshot against nvidia-smi (GPU 0)"
SMI_FIELDS=uuid,pci.bus_id,temperature.gpu,utilization.gpu,utilization.memory,memory.total,memory.used,memory.free,power.draw,power.limit,clocks.gr,clocks.sm,clocks.mem,pstate,pcie.link.gen.current,pcie.link.width.current
nvidia-smi --query-gpu=$SMI_FIELDS --format=csv,noheader,nounits -i 0 > "$WORK/smi.csv"
"$BIN" snapshot -f json > "$WORK/snapshot.json"
nvidia-smi dmon -s t -c 1 -i 0 > "$WORK/dmon.txt" 2>&1 || echo "  (nvidia-smi dmon -s t failed: $(head -1 "$WORK/dmon.txt"))"
python3 - "$WORK/snapshot.json" "$WORK/smi.csv" "$WORK/dmon.txt" <<'PY'
import json, sys
gpu = json.load(open(sys.argv[1]))["gpus"][0]
smi = [v.strip() for v in open(sys.argv[2]).read().split(",")]
MiB = 1024 * 1024
pairs = [  # (field, ours in nvidia-smi's unit, nvidia-smi's, tolerance): read a moment apart, so live values may move
    ("uid", gpu["uid"], smi[0], 0), ("pci_bus_id", gpu["pci_bus_id"], smi[1], 0),
    ("temperature", gpu["temperature"], smi[2], 2), ("gpu_utilization", gpu["gpu_utilization"], smi[3], 10),
    ("memory_utilization", gpu["memory_utilization"], smi[4], 10),
    ("memory_total MiB", round(gpu["memory_total"] / MiB), smi[5], 0), ("memory_used MiB", round(gpu["memory_used"] / MiB), smi[6], 16),
    ("memory_free MiB", round(gpu["memory_free"] / MiB), smi[7], 16), ("power_usage W", gpu["power_usage"], smi[8], 30),
    ("power_limit W", gpu["power_limit"], smi[9], 0.5), ("graphics_clock", gpu["graphics_clock"], smi[10], 200),
    ("sm_clock", gpu["sm_clock"], smi[11], 200), ("memory_clock", gpu["memory_clock"], smi[12], 0),
    ("performance_state", f"P{gpu['performance_state']}", smi[13], 0), ("pcie_link_generation", gpu["pcie_link_generation"], smi[14], 0),
    ("pcie_link_width", gpu["pcie_link_width"], smi[15], 0),
]
bad = 0
for name, ours, theirs, tolerance in pairs:
    try:
        same = abs(float(ours) - float(theirs)) <= tolerance
    except (TypeError, ValueError):
        same = str(ours) == theirs
    bad += not same
    print(f"  {'ok  ' if same else 'DIFF'} {name:<22} {ours!s:<44} nvidia-smi {theirs}")
print(f"  {len(pairs) - bad} of {len(pairs)} agree")

# PCIe throughput: NVML's KB/s over its own ~20 ms window; dmon prints MB/s. Live values: rough only.
if "pcie_tx_throughput" not in gpu:
    print("  PCIe throughput: this binary's snapshot has no pcie_tx_throughput/pcie_rx_throughput")
    sys.exit(0)
dmon = {}
try:
    lines = [line.split() for line in open(sys.argv[3]) if line.strip()]
    header = next(line[1:] for line in lines if line[0] == "#" and "rxpci" in line)
    row = next(line for line in lines if line[0] != "#")
    dmon = {name: float(value) for name, value in zip(header, row) if value.replace(".", "", 1).isdigit()}
except (StopIteration, OSError):
    pass
# MB/s per lane after line encoding, by PCIe generation: what the current link can carry.
lane = {1: 250, 2: 500, 3: 985, 4: 1969, 5: 3938, 6: 7563}.get(int(smi[14]) if smi[14].isdigit() else 0)
capacity = lane * int(smi[15]) if lane and smi[15].isdigit() else None
for name, ours, theirs in (("pcie_tx_throughput", gpu["pcie_tx_throughput"], dmon.get("txpci")),
                           ("pcie_rx_throughput", gpu["pcie_rx_throughput"], dmon.get("rxpci"))):
    ours_mb = None if ours is None else ours / 1024  # as the snapshot table shows it
    verdict = []
    if ours_mb is not None and theirs is not None:
        close = abs(ours_mb - theirs) <= max(50, 0.5 * max(ours_mb, theirs))
        verdict.append("roughly as dmon" if close else "DIFF from dmon")
    if ours_mb is not None and capacity:
        verdict.append(f"{'within' if ours_mb <= capacity * 1.05 else 'ABOVE'} the link's {capacity} MB/s (gen {smi[14]} x{smi[15]})")
    shown = "-" if ours_mb is None else f"{ours_mb:.1f}"
    print(f"  {name:<22} {ours} KB/s = {shown} MB/s; dmon {'-' if theirs is None else theirs} MB/s: {'; '.join(verdict) or 'nothing to compare'}")
PY

echo "== 2. NVML's cost per call, from C"
if command -v cc > /dev/null && cc -O2 -o "$WORK/nvml_floor" "$REPO/test/bench/nvml_floor.c" -ldl; then
  "$WORK/nvml_floor" "$LIB" 100 --per-call
else
  echo "  (no C compiler: skipped)"
fi

echo "== 3. the agent at 1 s for ${SECONDS_RUN} s"
cat > "$WORK/config.json" <<JSON
{ "collection": { "interval_seconds": 1, "aggregation_interval_seconds": 10 },
  "database": { "file": "$WORK/gm.db" }, "logging": { "file": "$WORK/agent.log", "level": "DEBUG" } }
JSON
# The service's engine settings, read from the unit itself (one variable per Environment= line).
UNIT_ENV=$(sed -n 's/^Environment=//p' "$REPO/packaging/systemd/gpu-monitor.service")
echo "  under the unit's environment: $(echo $UNIT_ENV)"
env $UNIT_ENV "$BIN" run -c "$WORK/config.json" -o > "$WORK/agent.out" 2>&1 &
AGENT=$!
sleep 15 # start-up (loading, the first ticks compiling their code) is not what an agent costs
memory() {
  python3 - "$AGENT" "$1" <<'PY'
import re, sys
kb = {name: int(value) for name, value in re.findall(r"^(\w+):\s+(\d+) kB", open(f"/proc/{sys.argv[1]}/smaps_rollup").read(), re.M)}
private = kb["Private_Clean"] + kb["Private_Dirty"] + kb.get("Swap", 0)
print(f"  {sys.argv[2]:<5} private {private / 1024:.1f} MB (clean pages of files only it maps, mostly the executable: "
      f"{kb['Private_Clean'] / 1024:.1f} MB), PSS {kb['Pss'] / 1024:.1f} MB, RSS {kb['Rss'] / 1024:.1f} MB")
PY
}
memory start
threads() {
  python3 - "$AGENT" <<'PY'
import json, os, sys
pid = sys.argv[1]; out = {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        out[tid] = [name, int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])]
    except (FileNotFoundError, ProcessLookupError):
        pass
print(json.dumps(out))
PY
}
threads > "$WORK/threads-a.json"
sleep "$SECONDS_RUN"
threads > "$WORK/threads-b.json"
memory end
python3 - "$WORK/threads-a.json" "$WORK/threads-b.json" "$SECONDS_RUN" <<'PY'
import json, sys
a, b, seconds = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
total = 0
for tid, (name, ns) in sorted(b.items(), key=lambda item: -item[1][1]):
    used = ns - (a[tid][1] if tid in a else 0)
    total += used
    print(f"  thread {name:<18} {used / 1e6:8.1f} ms = {used / 1e6 / seconds:.2f} ms per tick")
print(f"  all threads alive at the end: {total / 1e6:.1f} ms in {seconds:.0f} s = {total / 1e7 / seconds:.2f} % of one core")
PY
grep -E "VmRSS|RssAnon|RssFile|Threads" /proc/$AGENT/status | sed 's/^/  /'
python3 - "$AGENT" <<'PY'
import collections, re, sys
rss, name = collections.Counter(), None
for line in open(f"/proc/{sys.argv[1]}/smaps"):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        parts = line.split()
        name = parts[5] if len(parts) > 5 else "[anonymous]"
    elif line.startswith("Rss:"):
        rss[name] += int(line.split()[1])
for mapping, kb in rss.most_common(6):
    print(f"  {kb / 1024:7.1f} MB  {mapping}")
PY
if grep -q libcuda "/proc/$AGENT/maps"; then echo "  libcuda IS mapped into the agent"; else echo "  libcuda is not mapped into the agent"; fi

echo "== 4. what it stored"
"$BIN" -sc -c "$WORK/config.json" -f csv | head -3
"$BIN" export -c "$WORK/config.json" --from "$(date -d "-$((SECONDS_RUN + 30)) seconds" '+%Y-%m-%dT%H:%M:%S')" --level hourly --format csv | cut -d, -f1-13,30-31 | head -4
"$BIN" status -c "$WORK/config.json"
kill -TERM "$AGENT"
wait "$AGENT"
echo "  agent exit status $? (0 expected)"

echo "== 5. the driver's history in what it stored"
FROM=$(date -d "-$((SECONDS_RUN + 30)) seconds" '+%Y-%m-%dT%H:%M:%S')
"$BIN" export -c "$WORK/config.json" --from "$FROM" > "$WORK/samples.json"
"$BIN" export -c "$WORK/config.json" --from "$FROM" --level hourly > "$WORK/windows.json"
python3 - "$WORK/samples.json" "$WORK/windows.json" <<'PY'
import collections, json, statistics, sys
def gpus(path):
    return [gpu for line in open(path) if line.strip().startswith("{") for gpu in json.loads(line.strip().rstrip(","))["gpus"]]
samples, windows = gpus(sys.argv[1]), gpus(sys.argv[2])
sources = collections.Counter(s.get("utilization_source") for s in samples)
print(f"  samples: {dict(sources)} (the first after start is a point reading; every later one should be 'samples')")
counts = [s["utilization_samples"] for s in samples if s.get("utilization_samples")]
if counts:
    print(f"  driver samples per 1 s sample: median {statistics.median(counts)}, min {min(counts)}, max {max(counts)}"
          f" -> the driver's utilization period is about {1000 / statistics.median(counts):.0f} ms")
busy = [s["busy_seconds"] for s in samples if s.get("busy_seconds") is not None]
if busy:
    print(f"  busy seconds per sample: mean {statistics.mean(busy):.2f} (utilization mean {statistics.mean(s['gpu_utilization'] for s in samples):.1f} %)")
for w in windows:
    print(f"  window: {w['sample_count']} samples, energy {w.get('energy_consumption')} mJ ({w.get('energy_source')}), busy {w.get('busy_seconds')} s, "
          f"averaged {w.get('averaged_share')}, XIDs {w.get('xid_count')}, remapped {w.get('remapped_rows_correctable')}/{w.get('remapped_rows_uncorrectable')}"
          f" pending {w.get('remapped_rows_pending')}, clock events {w.get('clock_event_seconds')}, healthy {w.get('healthy_seconds')} s, unavailable {w.get('unavailable_seconds')} s")
PY
echo "== files in $WORK"
