// Pure decoders for NVML's out-parameter structs (layouts from NVIDIA's nvml.h,
// LP64/LLP64, little-endian). No FFI here: every function takes bytes and is
// unit-tested on hand-built buffers.

/** NVML_VALUE_NOT_AVAILABLE: an unsigned long long of all ones. */
const U32_MAX = 0xffffffff;

/** Sizes of the string buffers NVML documents (NVML_DEVICE_*_BUFFER_SIZE). */
export const BUFFER_SIZE = {
  uuid: 96,
  name: 96,
  serial: 30,
  pciBusId: 32,
  systemDriverVersion: 80,
  systemNvmlVersion: 80,
  processName: 256,
} as const;

/**
 * Reads an unsigned 64-bit value as a number without allocating a BigInt.
 * Returns null for NVML_VALUE_NOT_AVAILABLE. Values above 2^53 lose precision,
 * which no counter NVML reports reaches in practice (2^53 mJ is 285 years at 1 kW).
 */
export function readU64(view: DataView, offset: number): number | null {
  const low = view.getUint32(offset, true);
  const high = view.getUint32(offset + 4, true);
  if (low === U32_MAX && high === U32_MAX) return null;
  return high * 0x1_0000_0000 + low;
}

/** A NUL-terminated C string inside a fixed buffer. */
export function readCString(bytes: Uint8Array, offset: number, maxLength: number): string {
  const end = offset + maxLength;
  let nul = offset;
  while (nul < end && bytes[nul] !== 0) nul++;
  return textDecoder.decode(bytes.subarray(offset, nul));
}
const textDecoder = new TextDecoder("utf-8");

// ---- nvmlMemory_t / nvmlMemory_v2_t ----------------------------------------

export interface MemoryInfo {
  totalBytes: number | null;
  usedBytes: number | null;
  freeBytes: number | null;
  /** Memory the driver keeps for itself; only the _v2 call reports it. */
  reservedBytes: number | null;
}

/** nvmlMemory_v2_t: unsigned int version; [4 bytes padding]; u64 total, reserved, free, used. */
export const MEMORY_V2_SIZE = 40;
/** NVML_STRUCT_VERSION(Memory, 2) = sizeof(nvmlMemory_v2_t) | 2 << 24. */
export const MEMORY_V2_VERSION = structVersion(MEMORY_V2_SIZE, 2);

export function structVersion(size: number, version: number): number {
  return (size | (version << 24)) >>> 0;
}

export function decodeMemoryV1(view: DataView, offset: number): MemoryInfo {
  return {
    totalBytes: readU64(view, offset),
    freeBytes: readU64(view, offset + 8),
    usedBytes: readU64(view, offset + 16),
    reservedBytes: null,
  };
}

export function decodeMemoryV2(view: DataView, offset: number): MemoryInfo {
  return {
    totalBytes: readU64(view, offset + 8),
    reservedBytes: readU64(view, offset + 16),
    freeBytes: readU64(view, offset + 24),
    usedBytes: readU64(view, offset + 32),
  };
}

// ---- nvmlPciInfo_t ---------------------------------------------------------

export interface PciInfo {
  /** "00000000:25:00.0": 8-hex-digit domain, as nvidia-smi prints it. */
  busId: string;
  domain: number;
  bus: number;
  device: number;
  pciDeviceId: number;
  pciSubSystemId: number;
}

/**
 * nvmlPciInfo_t as written by nvmlDeviceGetPciInfo_v3 (68 bytes, no padding):
 * char busIdLegacy[16]; unsigned domain, bus, device, pciDeviceId, pciSubSystemId; char busId[32].
 */
export const PCI_INFO_V3_SIZE = 68;
/**
 * The legacy layout of nvmlDeviceGetPciInfo / _v2 (52 bytes): char busId[16];
 * unsigned domain, bus, device, pciDeviceId, pciSubSystemId, reserved0..3.
 */
export const PCI_INFO_LEGACY_SIZE = 52;

export function decodePciInfoV3(bytes: Uint8Array, view: DataView, offset: number): PciInfo {
  const fields = decodePciNumbers(view, offset);
  const busId = readCString(bytes, offset + 36, BUFFER_SIZE.pciBusId);
  return { ...fields, busId: busId.length > 0 ? busId : formatPciBusId(fields.domain, fields.bus, fields.device) };
}

/** The legacy struct's 16-byte bus id uses a 4-digit domain; rebuild the 8-digit form from the numbers. */
export function decodePciInfoLegacy(view: DataView, offset: number): PciInfo {
  const fields = decodePciNumbers(view, offset);
  return { ...fields, busId: formatPciBusId(fields.domain, fields.bus, fields.device) };
}

function decodePciNumbers(view: DataView, offset: number): Omit<PciInfo, "busId"> {
  return {
    domain: view.getUint32(offset + 16, true),
    bus: view.getUint32(offset + 20, true),
    device: view.getUint32(offset + 24, true),
    pciDeviceId: view.getUint32(offset + 28, true),
    pciSubSystemId: view.getUint32(offset + 32, true),
  };
}

export function formatPciBusId(domain: number, bus: number, device: number): string {
  const hex = (value: number, width: number) => value.toString(16).toUpperCase().padStart(width, "0");
  return `${hex(domain, 8)}:${hex(bus, 2)}:${hex(device, 2)}.0`;
}

// ---- nvmlUtilization_t -----------------------------------------------------

/** nvmlUtilization_t: unsigned int gpu, memory (percent). Two readers, so a sample allocates nothing for it. */
export function utilizationGpu(view: DataView, offset: number): number {
  return view.getUint32(offset, true);
}

export function utilizationMemory(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true);
}

// ---- nvmlProcessInfo_* -------------------------------------------------------

/** "mps": a client of an MPS server (nvmlDeviceGetMPSComputeRunningProcesses). */
export type ProcessKind = "compute" | "graphics" | "mps";

export interface ProcessEntry {
  kind: ProcessKind;
  pid: number;
  /** null when the driver cannot tell (NVML_VALUE_NOT_AVAILABLE, e.g. Windows WDDM). */
  usedMemoryBytes: number | null;
  /** MIG instance ids; null when not on MIG (0xFFFFFFFF) or not reported by the call. */
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
}

/**
 * Entry sizes: nvmlProcessInfo_v1_t {pid; pad; u64 usedGpuMemory} = 16 bytes (plain call);
 * nvmlProcessInfo_v2_t / nvmlProcessInfo_t {pid; pad; u64 used; unsigned gi, ci} = 24 bytes
 * (_v2 and _v3 calls). Drivers 535.43-535.86 wrote 32 bytes per _v3 entry (an extra
 * u64 usedGpuCcProtectedMemory that the header later dropped).
 */
export const PROCESS_ENTRY_SIZE = { v1: 16, v2: 24, v3: 24, v3Driver535: 32 } as const;
/** Room for the largest entry any driver writes, so a buffer never overflows. */
export const PROCESS_ENTRY_MAX_SIZE = 32;

/** Appends `count` entries of `stride` bytes to `into` (a new list by default). */
export function decodeProcessEntries(
  view: DataView,
  offset: number,
  count: number,
  stride: number,
  kind: ProcessKind,
  into: ProcessEntry[] = [],
): ProcessEntry[] {
  const hasInstanceIds = stride >= 24;
  for (let i = 0; i < count; i++) {
    const at = offset + i * stride;
    into.push({
      kind,
      pid: view.getUint32(at, true),
      usedMemoryBytes: readU64(view, at + 8),
      gpuInstanceId: hasInstanceIds ? instanceId(view.getUint32(at + 16, true)) : null,
      computeInstanceId: hasInstanceIds ? instanceId(view.getUint32(at + 20, true)) : null,
    });
  }
  return into;
}

function instanceId(raw: number): number | null {
  return raw === U32_MAX ? null : raw;
}

// ---- nvmlProcessUtilizationSample_t ----------------------------------------------

/** {pid; pad; u64 timeStamp (µs); smUtil, memUtil, encUtil, decUtil} = 32 bytes. */
export const PROCESS_UTILIZATION_SAMPLE_SIZE = 32;

/** One process's utilization over the samples the driver gave since the last read, percent. */
export interface ProcessUtilization {
  pid: number;
  smPercent: number;
  memoryPercent: number;
  encoderPercent: number;
  decoderPercent: number;
}

/**
 * Decodes `count` samples and averages them per pid (a process can have several
 * samples since the last read). `newest` gets the latest timestamp, for the next read.
 */
export function decodeProcessUtilization(view: DataView, offset: number, count: number): { byPid: ProcessUtilization[]; newestUs: number } {
  const sums = new Map<number, { n: number; sm: number; mem: number; enc: number; dec: number }>();
  let newestUs = 0;
  for (let i = 0; i < count; i++) {
    const at = offset + i * PROCESS_UTILIZATION_SAMPLE_SIZE;
    const pid = view.getUint32(at, true);
    if (pid === 0) continue;
    newestUs = Math.max(newestUs, readU64(view, at + 8) ?? 0);
    let sum = sums.get(pid);
    if (!sum) sums.set(pid, (sum = { n: 0, sm: 0, mem: 0, enc: 0, dec: 0 }));
    sum.n++;
    sum.sm += view.getUint32(at + 16, true);
    sum.mem += view.getUint32(at + 20, true);
    sum.enc += view.getUint32(at + 24, true);
    sum.dec += view.getUint32(at + 28, true);
  }
  const byPid = [...sums].map(([pid, sum]) => ({
    pid,
    smPercent: sum.sm / sum.n,
    memoryPercent: sum.mem / sum.n,
    encoderPercent: sum.enc / sum.n,
    decoderPercent: sum.dec / sum.n,
  }));
  return { byPid, newestUs };
}

/** True for drivers whose _v3 process calls wrote 32-byte entries. */
export function writesWideV3ProcessEntries(driverVersion: string | null): boolean {
  const parsed = parseDriverVersion(driverVersion);
  return parsed !== null && parsed.major === 535 && parsed.minor >= 43 && parsed.minor <= 86;
}

/**
 * The stride to decode a _v3 process list with. The bytes decide first: a list
 * that reads plausibly at the header's 24 bytes is 24-byte; one that only reads
 * plausibly at 32 is 32-byte (a 32-byte list read at 24 shows a pid of 0 at entry
 * 1, the low half of usedGpuCcProtectedMemory). When neither reading is plausible,
 * `driverWritesWide` (drivers 535.43-535.86, see writesWideV3ProcessEntries) decides.
 */
export function v3ProcessStride(view: DataView, offset: number, count: number, driverWritesWide: boolean): number {
  if (count < 2) return PROCESS_ENTRY_SIZE.v3; // one entry reads the same at either stride
  if (allPlausible(view, offset, count, PROCESS_ENTRY_SIZE.v3)) return PROCESS_ENTRY_SIZE.v3;
  if (allPlausible(view, offset, count, PROCESS_ENTRY_SIZE.v3Driver535)) return PROCESS_ENTRY_SIZE.v3Driver535;
  return driverWritesWide ? PROCESS_ENTRY_SIZE.v3Driver535 : PROCESS_ENTRY_SIZE.v3;
}

const MAX_PID = 4_194_304; // Linux PID_MAX_LIMIT on 64-bit
const MAX_INSTANCE_ID = 1024;

/** Reads the raw fields in place: this runs on every sample, so it allocates nothing. */
function allPlausible(view: DataView, offset: number, count: number, stride: number): boolean {
  for (let i = 0; i < count; i++) {
    const at = offset + i * stride;
    const pid = view.getUint32(at, true);
    const gi = view.getUint32(at + 16, true);
    const ci = view.getUint32(at + 20, true);
    if (pid === 0 || pid > MAX_PID) return false;
    if ((gi !== U32_MAX && gi >= MAX_INSTANCE_ID) || (ci !== U32_MAX && ci >= MAX_INSTANCE_ID)) return false;
  }
  return true;
}

// ---- versions and enums ----------------------------------------------------

export function parseDriverVersion(version: string | null): { major: number; minor: number } | null {
  const match = version?.match(/^(\d+)\.(\d+)/);
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/** nvmlSystemGetCudaDriverVersion's 12040 is CUDA "12.4". */
export function formatCudaVersion(encoded: number): string {
  return `${Math.floor(encoded / 1000)}.${Math.floor((encoded % 1000) / 10)}`;
}

/** nvmlPstates_t: 0..15, NVML_PSTATE_UNKNOWN = 32. */
export function decodePerformanceState(raw: number): number | null {
  return raw <= 15 ? raw : null;
}

/** nvmlClocksEventReason* bits (formerly ClocksThrottleReason*). */
export const CLOCK_EVENT_REASONS: ReadonlyArray<readonly [bit: number, name: string]> = [
  [0x1, "gpu_idle"],
  [0x2, "applications_clocks_setting"],
  [0x4, "sw_power_cap"],
  [0x8, "hw_slowdown"],
  [0x10, "sync_boost"],
  [0x20, "sw_thermal_slowdown"],
  [0x40, "hw_thermal_slowdown"],
  [0x80, "hw_power_brake_slowdown"],
  [0x100, "display_clock_setting"],
];

export function clockEventReasonNames(mask: number): string[] {
  const names: string[] = [];
  for (const [bit, name] of CLOCK_EVENT_REASONS) if (mask & bit) names.push(name);
  return names;
}

// ---- nvmlSample_t ----------------------------------------------------------

/** nvmlSample_t: unsigned long long timeStamp (CPU time, microseconds); nvmlValue_t sampleValue (an 8-byte union). */
export const SAMPLE_SIZE = 16;

/** nvmlValueType_t. */
export const VALUE_TYPE = { double: 0, unsignedInt: 1, unsignedLong: 2, unsignedLongLong: 3, signedLongLong: 4, signedInt: 5, unsignedShort: 6 } as const;

/** `unsigned long` is 8 bytes on LP64 (Linux, macOS) and 4 on LLP64 (Windows). */
export const UNSIGNED_LONG_BYTES = process.platform === "win32" ? 4 : 8;

/** One nvmlValue_t of the given nvmlValueType_t; null for a type this header does not know. */
export function decodeValue(view: DataView, offset: number, valueType: number, unsignedLongBytes = UNSIGNED_LONG_BYTES): number | null {
  switch (valueType) {
    case VALUE_TYPE.double:
      return view.getFloat64(offset, true);
    case VALUE_TYPE.unsignedInt:
      return view.getUint32(offset, true);
    case VALUE_TYPE.unsignedLong:
      return unsignedLongBytes === 4 ? view.getUint32(offset, true) : readU64(view, offset);
    case VALUE_TYPE.unsignedLongLong:
      return readU64(view, offset);
    case VALUE_TYPE.signedLongLong:
      return Number(view.getBigInt64(offset, true));
    case VALUE_TYPE.signedInt:
      return view.getInt32(offset, true);
    case VALUE_TYPE.unsignedShort:
      return view.getUint16(offset, true);
    default:
      return null;
  }
}

/**
 * Decodes `count` nvmlSample_t into the two arrays (timestamps in microseconds).
 * `words` views the same bytes as `view`: power and utilization come as unsigned
 * ints (nvml.h), read from it without a call per field, as a minute of 8 GPUs'
 * buffers is some 14,000 samples.
 */
export function decodeSamples(view: DataView, words: Uint32Array, count: number, valueType: number, timestampsUs: Float64Array, values: Float64Array): void {
  if (valueType === VALUE_TYPE.unsignedInt) {
    for (let i = 0, w = 0; i < count; i++, w += 4) {
      timestampsUs[i] = words[w + 1]! * 0x1_0000_0000 + words[w]!;
      values[i] = words[w + 2]!;
    }
    return;
  }
  for (let i = 0; i < count; i++) {
    const at = i * SAMPLE_SIZE;
    timestampsUs[i] = readU64(view, at) ?? 0;
    values[i] = decodeValue(view, at + 8, valueType) ?? Number.NaN;
  }
}

// ---- nvmlEventData_t -------------------------------------------------------

/**
 * nvmlEventData_t: nvmlDevice_t device; unsigned long long eventType, eventData;
 * unsigned int gpuInstanceId, computeInstanceId (the last two from _v2 on: the
 * buffer is sized for them either way).
 */
export const EVENT_DATA_SIZE = 32;

export interface EventData {
  /** The device handle's address. */
  device: number;
  type: number;
  /** The XID for an XID event; 0 otherwise. */
  data: number;
}

export function decodeEventData(view: DataView, offset: number): EventData {
  return {
    device: readU64(view, offset) ?? 0,
    type: readU64(view, offset + 8) ?? 0,
    data: readU64(view, offset + 16) ?? 0,
  };
}

/** nvmlEventType* bits the agent asks for. */
export const EVENT_TYPE = {
  singleBitEcc: 0x1,
  doubleBitEcc: 0x2,
  xid: 0x8,
  gpuUnavailable: 0x4000,
} as const;

// ---- GPM (nvml.h "NVML GPM") -------------------------------------------------

/** nvmlGpmMetricId_t values the agent asks for. */
export const GPM_METRIC = { graphicsUtil: 1, smUtil: 2, smOccupancy: 3, anyTensorUtil: 5, dramBwUtil: 10 } as const;
/** NVML_GPM_METRIC_MAX: the length of nvmlGpmMetricsGet_t.metrics. */
export const GPM_METRIC_MAX = 333;
/** nvmlGpmMetric_t: metricId (u32), nvmlReturn (u32), value (double), metricInfo (three char*): 40 bytes on 64-bit ABIs. */
export const GPM_METRIC_SIZE = 40;
/** nvmlGpmMetricsGet_t: version, numMetrics (u32 each), sample1, sample2 (pointers), then the metrics array. */
export const GPM_METRICS_OFFSET = 24;
export const GPM_METRICS_GET_SIZE = GPM_METRICS_OFFSET + GPM_METRIC_MAX * GPM_METRIC_SIZE;
export const GPM_METRICS_GET_VERSION = 1;
/** nvmlGpmSupport_t: version (in), isSupportedDevice (out), two u32. */
export const GPM_SUPPORT_VERSION = 1;

/** Fills an nvmlGpmMetricsGet_t asking for `metricIds` between two samples (addresses). */
export function encodeGpmMetricsGet(view: DataView, offset: number, sample1: number, sample2: number, metricIds: readonly number[]): void {
  view.setUint32(offset, GPM_METRICS_GET_VERSION, true);
  view.setUint32(offset + 4, metricIds.length, true);
  view.setBigUint64(offset + 8, BigInt(sample1), true);
  view.setBigUint64(offset + 16, BigInt(sample2), true);
  metricIds.forEach((id, i) => {
    const at = offset + GPM_METRICS_OFFSET + i * GPM_METRIC_SIZE;
    view.setUint32(at, id, true);
    view.setUint32(at + 4, 0, true);
    view.setFloat64(at + 8, 0, true);
  });
}

/** The value of each of the first `count` metrics, null where its nvmlReturn is not NVML_SUCCESS (or the value is not a number). */
export function decodeGpmMetrics(view: DataView, offset: number, count: number): Array<number | null> {
  const values: Array<number | null> = [];
  for (let i = 0; i < count; i++) {
    const at = offset + GPM_METRICS_OFFSET + i * GPM_METRIC_SIZE;
    const value = view.getFloat64(at + 8, true);
    values.push(view.getUint32(at + 4, true) === 0 && Number.isFinite(value) ? value : null);
  }
  return values;
}

/**
 * A GPM utilization metric held to 0–100 %: it is a ratio of two counter deltas that
 * can stray a little past either end, and the exporter's ratios must stay within 0–1.
 */
export function gpmPercent(value: number | null): number | null {
  return value === null ? null : Math.min(100, Math.max(0, value));
}

/** A MIG device's profile from its name ("NVIDIA H100 80GB HBM3 MIG 1g.10gb" -> "1g.10gb"), or null. */
export function migProfileFromName(name: string | null): string | null {
  const match = name?.match(/\bMIG\s+(\S+)\s*$/);
  return match ? match[1]! : null;
}
