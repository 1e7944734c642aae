// The Nvml interface over bun:ffi. Every return code goes through `check` or
// `fieldOk`; every struct through the pure decoders in structs.ts.

import { ptr } from "bun:ffi";
import {
  ALREADY_INITIALIZED,
  ARGUMENT_VERSION_MISMATCH,
  check,
  DRIVER_NOT_LOADED,
  FUNCTION_NOT_FOUND,
  LIB_RM_VERSION_MISMATCH,
  NO_PERMISSION,
  NOT_SUPPORTED,
  NOT_FOUND,
  failureScope,
  GPU_IS_LOST,
  INSUFFICIENT_SIZE,
  NvmlError,
  NvmlUnavailableError,
  returnCodeMessage,
  returnCodeName,
} from "./errors.ts";
import { openNvmlLibrary, type BoundFunction, type NvmlLibrary } from "./library.ts";
import {
  BUFFER_SIZE,
  decodeEventData,
  decodeGpmMetrics,
  decodeSamples,
  encodeGpmMetricsGet,
  gpmPercent,
  GPM_METRIC,
  GPM_METRICS_GET_SIZE,
  GPM_SUPPORT_VERSION,
  migProfileFromName,
  EVENT_DATA_SIZE,
  EVENT_TYPE,
  SAMPLE_SIZE,
  decodeMemoryV1,
  decodeMemoryV2,
  decodePciInfoLegacy,
  decodePciInfoV3,
  decodePerformanceState,
  decodeProcessEntries,
  decodeProcessUtilization,
  PROCESS_UTILIZATION_SAMPLE_SIZE,
  utilizationGpu,
  utilizationMemory,
  formatCudaVersion,
  MEMORY_V2_VERSION,
  PCI_INFO_V3_SIZE,
  PROCESS_ENTRY_MAX_SIZE,
  PROCESS_ENTRY_SIZE,
  readCString,
  readU64,
  v3ProcessStride,
  writesWideV3ProcessEntries,
  type MemoryInfo,
  type PciInfo,
  type ProcessKind,
} from "./structs.ts";
import type { DeviceEvent, DriverSamples, GpmActivity, GpuProcess, GpuReading, HostInfo, Nvml, ProcessUtilization, SampleKind } from "./types.ts";

// nvml.h enum values passed as arguments.
const TEMPERATURE_GPU = 0;
const CLOCK_GRAPHICS = 0;
const CLOCK_SM = 1;
const CLOCK_MEM = 2;
const MEMORY_ERROR_CORRECTED = 0;
const MEMORY_ERROR_UNCORRECTED = 1;
const ECC_COUNTER_VOLATILE = 0;
const ENABLE_STATE_ENABLED = 1;
const PCIE_UTIL_TX_BYTES = 0;
const PCIE_UTIL_RX_BYTES = 1;
const NVML_TIMEOUT = 10;
/** nvmlSamplingType_t. */
const SAMPLING_TYPE: Readonly<Record<SampleKind, number>> = { power: 0, gpu_utilization: 1, memory_utilization: 2 };
/** What the agent listens for: XIDs, ECC errors and a GPU becoming unavailable. */
const WANTED_EVENTS = EVENT_TYPE.xid | EVENT_TYPE.singleBitEcc | EVENT_TYPE.doubleBitEcc | EVENT_TYPE.gpuUnavailable;
/** Events taken in one call at most: the rest wait for the next. */
const MAX_EVENTS_PER_CALL = 256;
/** Sample buffer entries before the driver has said how many it keeps. */
const INITIAL_SAMPLE_CAPACITY = 128;

const NO_FIELD_ERRORS: Readonly<Record<string, string>> = Object.freeze({});
const NO_PERMISSION_NAME = returnCodeName(NO_PERMISSION);

/** The GPM metrics read, in the order of GpmActivity's percentages. */
const GPM_METRIC_IDS: readonly number[] = [
  GPM_METRIC.smUtil,
  GPM_METRIC.smOccupancy,
  GPM_METRIC.anyTensorUtil,
  GPM_METRIC.dramBwUtil,
  GPM_METRIC.graphicsUtil,
];
/** The GPM source key of a GPU as a whole; a GPU instance's is its id. */
const WHOLE_GPU = -1;
const MIG_ENABLED = 1;

/**
 * What a MIG device's reading leaves empty: the GPU-wide figures (its GPU's reading
 * has them) and what nvml.h says MIG devices do not support (process utilization).
 */
const MIG_DEVICE_HAS_NONE = Object.freeze({
  temperatureCelsius: null,
  fanSpeedsPercent: null,
  powerUsageMilliwatts: null,
  powerLimitMilliwatts: null,
  energyMillijoules: null,
  graphicsClockMhz: null,
  smClockMhz: null,
  memoryClockMhz: null,
  performanceState: null,
  clockEventReasons: null,
  eccEnabled: null,
  eccErrorsCorrected: null,
  eccErrorsUncorrected: null,
  encoderUtilizationPercent: null,
  decoderUtilizationPercent: null,
  pcieLinkGeneration: null,
  pcieLinkWidth: null,
  pcieTxKilobytesPerSecond: null,
  pcieRxKilobytesPerSecond: null,
  remappedRowsCorrectable: null,
  remappedRowsUncorrectable: null,
  remappedRowsPending: null,
  remappedRowsFailure: null,
  utilizationSamples: 0,
  busyMilliseconds: null,
  migMode: null,
  migModePending: null,
  processUtilization: null,
} satisfies Partial<GpuReading>);

/** Two GPM sample buffers of one source: the last one taken, and the one the next reading fills. */
interface GpmPair {
  previous: number;
  next: number;
  /** When `previous` was taken (monotonic ms); null until one was. */
  previousAtMs: number | null;
  /**
   * The uuid of the device the samples were taken for (a GPU instance's: its first MIG
   * device): a GPU instance destroyed and made again between two readings keeps its id
   * but not its MIG devices, and its first sample must not pair with the old one's.
   */
  takenFor: string;
}

/** What a MIG device is, read with its handle: kept while the same uuid answers at its index. */
interface MigIdentity {
  parentUuid: string;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
  profile: string | null;
}

/** Process list entries a device buffer holds before it has to grow, and at most. */
const INITIAL_PROCESS_CAPACITY = 64;
const MAX_PROCESS_CAPACITY = 16_384;
/** Process lists change between calls; give up after this many INSUFFICIENT_SIZE answers in one read. */
const PROCESS_LIST_ATTEMPTS = 5;

// Layout of each device's scratch buffer: out-parameters of the per-sample calls.
const OUT_A = 0; // u32 or u64
const OUT_B = 8; // u32 (second out-parameter)
const OUT_MEMORY = 16; // nvmlMemory_t or nvmlMemory_v2_t (40 bytes)
const OUT_STRING = 64; // strings and nvmlPciInfo_t, read once per device
const SCRATCH_SIZE = OUT_STRING + 128;

/** The parts of a GPU that do not change while its handle is valid, read once. */
interface DeviceSlot {
  index: number;
  handle: number;
  bytes: Uint8Array;
  view: DataView;
  base: number;
  uuid: string;
  name: string | null;
  serial: string | null;
  pci: PciInfo | null;
  fanCount: number | null;
  eccEnabled: boolean | null;
  // Versioned functions this GPU answers to: start at the newest symbol and move
  // to an older one when the newer exists but will not answer (see `demoted`).
  memoryInfo: BoundFunction | null;
  clockEventReasons: BoundFunction | null;
  computeProcesses: BoundFunction | null;
  graphicsProcesses: BoundFunction | null;
  mpsProcesses: BoundFunction | null;
  /** Bytes of the process buffer the last decode read; zeroed again before the next call. */
  processBytesUsed: number;
  /** Errors met reading the static parts; repeated in every reading. */
  staticErrors: Record<string, string> | null;
  /** Errors of the reading in progress; allocated only when there is one. */
  errors: Record<string, string> | null;
  processBytes: Uint8Array;
  processView: DataView;
  processBase: number;
  processCapacity: number;
  /** nvmlDeviceGetProcessUtilization, until this GPU says it does not support it. */
  processUtilization: BoundFunction | null;
  /** Its sample buffer (allocated at the first read) and the newest sample's CPU time read so far (µs). */
  utilizationBuffer: { bytes: Uint8Array; view: DataView; base: number; capacity: number } | null;
  utilizationLastSeenUs: number;
  /** nvmlSample_t buffer for the driver's sample buffers, allocated at the first read. */
  samples: { bytes: Uint8Array; view: DataView; words: Uint32Array; base: number; capacity: number; out: DriverSamples } | null;
  /** Sample kinds this GPU answered NOT_SUPPORTED for: not asked again. */
  samplesUnsupported: Set<SampleKind> | null;
  /** Whether GPM answers for this GPU (asked once); null: the driver has no GPM. */
  gpmSupported: boolean | null;
  /** GPM sample pairs by source: WHOLE_GPU, or a GPU instance id. */
  gpm: Map<number, GpmPair> | null;
  /** MIG mode at the last reading. */
  migMode: boolean | null;
  /** Its MIG devices by MIG index, while MIG is on. */
  migDevices: Map<number, DeviceSlot> | null;
  /** Set on a MIG device's slot. */
  mig: MigIdentity | null;
}

export interface OpenNvmlOptions {
  /** A full path to load instead of the platform's candidates. */
  libraryPath?: string | undefined;
}

/**
 * Loads and initialises NVML. Throws NvmlUnavailableError (the caller exits 3)
 * when no library loads or the driver refuses to initialise.
 */
export function openNvml(options: OpenNvmlOptions = {}): Nvml {
  const library = openNvmlLibrary(options.libraryPath);
  const init = library.functions.init!;
  const code = init.call();
  // ALREADY_INITIALIZED: old drivers' way of saying "initialised again" (now reference counted).
  if (code !== 0 && code !== ALREADY_INITIALIZED) {
    library.close();
    throw new NvmlUnavailableError(initFailureMessage(code, init.symbol, library.path));
  }
  return new FfiNvml(library);
}

function initFailureMessage(code: number, symbol: string, path: string): string {
  const what = `${returnCodeName(code)} from ${symbol}, library ${path}`;
  switch (code) {
    case DRIVER_NOT_LOADED:
      return `the NVIDIA driver is not loaded (${what}): load it (modprobe nvidia, or reboot after installing the driver)`;
    case NO_PERMISSION:
      return `no permission to use NVML (${what}): run as a user that may open /dev/nvidia*`;
    case LIB_RM_VERSION_MISMATCH:
      return `the NVML library does not match the running kernel driver (${what}): reboot, or reload the nvidia kernel module after a driver upgrade`;
    default:
      return `NVML failed to initialise: ${returnCodeMessage(code)} (${what})`;
  }
}

class FfiNvml implements Nvml {
  readonly libraryPath: string;
  readonly boundSymbols: Readonly<Record<string, string | null>>;
  private readonly fn: NvmlLibrary["functions"];
  private readonly slots = new Map<number, DeviceSlot>();
  private hostInfo: HostInfo | null = null;
  private driverVersionText: string | null | undefined;
  private nvmlVersionText: string | null | undefined;
  /** Whether this driver writes 32-byte _v3 process entries; decided once. */
  private wideV3Entries: boolean | null = null;
  // Shared scratch for calls that are not per device (count, handles, versions).
  private readonly scratch = new Uint8Array(BUFFER_SIZE.processName);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly scratchBase = ptr(this.scratch);
  private closed = false;
  /** The nvmlEventSet_t listened on, once watchEvents was called. */
  private eventSet: number | null = null;
  /** The last wait answered GPU_IS_LOST (reported once until a wait answers otherwise). */
  private eventWaitLost = false;
  private readonly eventBytes = new Uint8Array(EVENT_DATA_SIZE);
  private readonly eventView = new DataView(this.eventBytes.buffer);
  private readonly eventBase = ptr(this.eventBytes);
  /** The nvmlGpmMetricsGet_t of every GPM computation (one at a time), allocated at the first. */
  private gpmRequestBuffer: { bytes: Uint8Array; view: DataView; base: number } | null = null;

  private get gpmRequest(): { bytes: Uint8Array; view: DataView; base: number } {
    if (!this.gpmRequestBuffer) {
      const bytes = new Uint8Array(GPM_METRICS_GET_SIZE);
      this.gpmRequestBuffer = { bytes, view: new DataView(bytes.buffer), base: ptr(bytes) };
    }
    return this.gpmRequestBuffer;
  }

  constructor(private readonly library: NvmlLibrary) {
    this.libraryPath = library.path;
    this.fn = { ...library.functions };
    this.boundSymbols = Object.fromEntries(
      Object.entries(library.functions).map(([name, bound]) => [name, bound?.symbol ?? null]),
    );
  }

  driverVersion(): string | null {
    this.ensureOpen();
    if (this.driverVersionText === undefined) {
      this.driverVersionText = this.systemString(this.fn.driverVersion, BUFFER_SIZE.systemDriverVersion);
    }
    return this.driverVersionText;
  }

  nvmlVersion(): string | null {
    this.ensureOpen();
    if (this.nvmlVersionText === undefined) this.nvmlVersionText = this.systemString(this.fn.nvmlVersion, BUFFER_SIZE.systemNvmlVersion);
    return this.nvmlVersionText;
  }

  host(): HostInfo {
    this.ensureOpen();
    this.hostInfo ??= {
      driverVersion: this.driverVersion(),
      nvmlVersion: this.nvmlVersion(),
      cudaDriverVersion: this.cudaVersion(),
    };
    return this.hostInfo;
  }

  deviceCount(): number {
    this.ensureOpen();
    const count = this.fn.deviceCount!;
    check(count.call(this.scratchBase), count.symbol, "counting GPUs");
    return this.scratchView.getUint32(0, true);
  }

  processName(pid: number): string | null {
    this.ensureOpen();
    const fn = this.fn.processName;
    if (!fn) return null;
    this.scratch.fill(0);
    if (fn.call(pid, this.scratchBase, BUFFER_SIZE.processName) !== 0) return null;
    const name = readCString(this.scratch, 0, BUFFER_SIZE.processName);
    return name.length > 0 ? name : null;
  }

  readGpu(index: number): GpuReading {
    this.ensureOpen();
    const slot = this.slot(index);
    try {
      return this.readSlot(slot);
    } catch (error) {
      // A lost or reset GPU gets a fresh handle and identity on the next read.
      this.dropSlot(index);
      throw error;
    }
  }

  sampleBufferLength(index: number, kind: SampleKind): number | null {
    this.ensureOpen();
    const bound = this.fn.samples;
    if (!bound) return null;
    const slot = this.slot(index);
    // A NULL buffer asks how many samples the driver keeps.
    const code = bound.call(slot.handle, SAMPLING_TYPE[kind], 0, slot.base + OUT_A, slot.base + OUT_B, 0);
    if (code !== 0) {
      if (failureScope(code) === "gpu") throw new NvmlError(code, bound.symbol, `GPU ${index}`);
      if (code === NOT_SUPPORTED) (slot.samplesUnsupported ??= new Set()).add(kind);
      return null;
    }
    const length = slot.view.getUint32(OUT_B, true);
    if (length > (slot.samples?.capacity ?? 0)) allocateSampleBuffer(slot, length);
    return length;
  }

  readSamples(index: number, kind: SampleKind, afterUs: number): DriverSamples | null {
    this.ensureOpen();
    const bound = this.fn.samples;
    if (!bound) return null;
    const slot = this.slot(index);
    if (slot.samplesUnsupported?.has(kind)) return null;
    const buffer = slot.samples ?? allocateSampleBuffer(slot, INITIAL_SAMPLE_CAPACITY);
    slot.view.setUint32(OUT_B, buffer.capacity, true);
    const code = bound.call(slot.handle, SAMPLING_TYPE[kind], afterUs, slot.base + OUT_A, slot.base + OUT_B, buffer.base);
    if (code === NOT_FOUND) {
      buffer.out.count = 0; // nothing newer than afterUs
      return buffer.out;
    }
    if (code !== 0) {
      if (failureScope(code) === "gpu") {
        this.dropSlot(index);
        throw new NvmlError(code, bound.symbol, `GPU ${index}`);
      }
      if (code === NOT_SUPPORTED) (slot.samplesUnsupported ??= new Set()).add(kind);
      return null;
    }
    const count = Math.min(slot.view.getUint32(OUT_B, true), buffer.capacity);
    decodeSamples(buffer.view, buffer.words, count, slot.view.getUint32(OUT_A, true), buffer.out.timestampsUs, buffer.out.values);
    buffer.out.count = count;
    return buffer.out;
  }

  watchEvents(): boolean {
    this.ensureOpen();
    const { eventSetCreate, registerEvents, eventSetWait } = this.fn;
    if (this.eventSet !== null) return true;
    if (!eventSetCreate || !registerEvents || !eventSetWait) return false;
    this.scratch.fill(0, 0, 8);
    if (eventSetCreate.call(this.scratchBase) !== 0) return false;
    this.eventSet = readU64(this.scratchView, 0);
    for (const slot of this.slots.values()) this.registerEvents(slot);
    return true;
  }

  takeEvents(): DeviceEvent[] {
    this.ensureOpen();
    const wait = this.fn.eventSetWait;
    const events: DeviceEvent[] = [];
    if (this.eventSet === null || !wait) return events;
    for (let taken = 0; taken < MAX_EVENTS_PER_CALL; taken++) {
      const code = wait.call(this.eventSet, this.eventBase, 0);
      if (code === NVML_TIMEOUT) {
        this.eventWaitLost = false;
        break;
      }
      if (code !== 0) {
        // A lost GPU shows in its next reading; said here once, not at every poll while it stays lost.
        if (code === GPU_IS_LOST && !this.eventWaitLost) events.push({ index: null, uuid: null, kind: "gpu_unavailable", code: null });
        this.eventWaitLost = code === GPU_IS_LOST;
        break;
      }
      this.eventWaitLost = false;
      const data = decodeEventData(this.eventView, 0);
      const kind = eventKind(data.type);
      if (!kind) continue;
      let slot: DeviceSlot | undefined;
      for (const candidate of this.slots.values()) if (candidate.handle === data.device) slot = candidate;
      events.push({ index: slot?.index ?? null, uuid: slot?.uuid ?? null, kind, code: kind === "xid" ? data.data : null });
    }
    return events;
  }

  /** Registers one GPU for the wanted events it supports; a GPU that supports none is left out. */
  private registerEvents(slot: DeviceSlot): void {
    const register = this.fn.registerEvents;
    if (!register || this.eventSet === null) return;
    let mask = WANTED_EVENTS;
    const supported = this.fn.supportedEventTypes;
    if (supported) {
      if (supported.call(slot.handle, slot.base + OUT_A) !== 0) return;
      mask &= readU64(slot.view, OUT_A) ?? 0;
    }
    if (mask !== 0) register.call(slot.handle, mask, this.eventSet);
  }

  /** Calling into an unloaded library would crash the process; say so instead. */
  private ensureOpen(): void {
    if (this.closed) throw new NvmlUnavailableError("NVML was already shut down by this process");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots.values()) this.freeGpm(slot);
    this.slots.clear();
    if (this.eventSet !== null) this.fn.eventSetFree?.call(this.eventSet);
    this.eventSet = null;
    this.fn.shutdown!.call();
    this.library.close();
  }

  // ---- per device ----------------------------------------------------------

  private slot(index: number): DeviceSlot {
    const existing = this.slots.get(index);
    if (existing) return existing;
    const created = this.openDevice(index);
    this.slots.set(index, created);
    return created;
  }

  private openDevice(index: number): DeviceSlot {
    const handleFn = this.fn.handleByIndex!;
    check(handleFn.call(index, this.scratchBase), handleFn.symbol, `GPU ${index}`);
    const handle = Number(this.scratchView.getBigUint64(0, true));
    const slot = this.newSlot(index, handle);
    const uuidFn = this.fn.uuid!;
    check(uuidFn.call(handle, slot.base + OUT_STRING, BUFFER_SIZE.uuid), uuidFn.symbol, `GPU ${index}`);
    slot.uuid = readCString(slot.bytes, OUT_STRING, BUFFER_SIZE.uuid);
    slot.name = this.deviceString(slot, this.fn.name, BUFFER_SIZE.name, "name");
    slot.serial = this.deviceString(slot, this.fn.serial, BUFFER_SIZE.serial, "serial");
    slot.pci = this.readPci(slot);
    slot.fanCount = this.readFanCount(slot);
    slot.eccEnabled = this.readEccMode(slot);
    slot.gpmSupported = this.readGpmSupport(slot);
    slot.staticErrors = slot.errors;
    if (this.eventSet !== null) this.registerEvents(slot);
    return slot;
  }

  /** A device's slot with nothing read yet: its buffers and the newest symbols to try. */
  private newSlot(index: number, handle: number): DeviceSlot {
    const bytes = new Uint8Array(SCRATCH_SIZE);
    const processBytes = new Uint8Array(INITIAL_PROCESS_CAPACITY * PROCESS_ENTRY_MAX_SIZE);
    return {
      index,
      handle,
      bytes,
      view: new DataView(bytes.buffer),
      base: ptr(bytes),
      uuid: "",
      name: null,
      serial: null,
      pci: null,
      fanCount: null,
      eccEnabled: null,
      memoryInfo: this.fn.memoryInfo,
      clockEventReasons: this.fn.clockEventReasons,
      computeProcesses: this.fn.computeProcesses,
      graphicsProcesses: this.fn.graphicsProcesses,
      mpsProcesses: this.fn.mpsProcesses,
      processBytesUsed: 0,
      staticErrors: null,
      errors: null,
      processBytes,
      processView: new DataView(processBytes.buffer),
      processBase: ptr(processBytes),
      processCapacity: INITIAL_PROCESS_CAPACITY,
      processUtilization: this.fn.processUtilization,
      utilizationBuffer: null,
      utilizationLastSeenUs: 0,
      samples: null,
      samplesUnsupported: null,
      gpmSupported: null,
      gpm: null,
      migMode: null,
      migDevices: null,
      mig: null,
    };
  }

  // Each FFI function is called from a call site of its own: a site shared by
  // several native functions is megamorphic and costs ~3x more per call
  // (measured: 11.5 ns vs 3.3 ns), which is most of a sample's cost.
  private readSlot(slot: DeviceSlot): GpuReading {
    const fn = this.fn;
    const h = slot.handle;
    const a = slot.base + OUT_A;
    const b = slot.base + OUT_B;
    slot.errors = slot.staticErrors && { ...slot.staticErrors };

    const memory = this.readMemory(slot);
    let gpuUtilization: number | null = null;
    let memoryUtilization: number | null = null;
    if (fn.utilization && this.called(slot, fn.utilization, fn.utilization.call(h, a), "utilization")) {
      gpuUtilization = utilizationGpu(slot.view, OUT_A);
      memoryUtilization = utilizationMemory(slot.view, OUT_A);
    }
    const temperature = fn.temperature
      ? this.u32Out(slot, fn.temperature, fn.temperature.call(h, TEMPERATURE_GPU, a), "temperature")
      : null;
    const fans = this.readFans(slot);
    const powerMilliwatts = fn.powerUsage
      ? this.u32Out(slot, fn.powerUsage, fn.powerUsage.call(h, a), "power_usage")
      : null;
    let limitMilliwatts = fn.enforcedPowerLimit
      ? this.u32Out(slot, fn.enforcedPowerLimit, fn.enforcedPowerLimit.call(h, a), "power_limit")
      : null;
    if (limitMilliwatts === null && fn.powerManagementLimit) {
      limitMilliwatts = this.u32Out(slot, fn.powerManagementLimit, fn.powerManagementLimit.call(h, a), "power_limit");
      if (limitMilliwatts !== null && slot.errors) delete slot.errors.power_limit; // the fallback answered
    }
    const energy = fn.totalEnergy ? this.u64Out(slot, fn.totalEnergy, fn.totalEnergy.call(h, a), "energy_consumption") : null;
    const clock = fn.clockInfo;
    const graphicsClock = clock ? this.u32Out(slot, clock, clock.call(h, CLOCK_GRAPHICS, a), "graphics_clock") : null;
    const smClock = clock ? this.u32Out(slot, clock, clock.call(h, CLOCK_SM, a), "sm_clock") : null;
    const memoryClock = clock ? this.u32Out(slot, clock, clock.call(h, CLOCK_MEM, a), "memory_clock") : null;
    const performanceState = fn.performanceState
      ? this.u32Out(slot, fn.performanceState, fn.performanceState.call(h, a), "performance_state")
      : null;
    const clockEventReasons = slot.clockEventReasons ? this.readClockEventReasons(slot) : null;
    // Counts are asked for unless ECC is known to be off: a failed mode query must not hide them.
    const eccOn = slot.eccEnabled !== false && fn.totalEccErrors !== null;
    const eccCorrected = eccOn ? this.eccCount(slot, MEMORY_ERROR_CORRECTED, "ecc_errors_corrected") : null;
    const eccUncorrected = eccOn ? this.eccCount(slot, MEMORY_ERROR_UNCORRECTED, "ecc_errors_uncorrected") : null;
    const encoder = fn.encoderUtilization
      ? this.u32Out(slot, fn.encoderUtilization, fn.encoderUtilization.call(h, a, b), "encoder_utilization")
      : null;
    const decoder = fn.decoderUtilization
      ? this.u32Out(slot, fn.decoderUtilization, fn.decoderUtilization.call(h, a, b), "decoder_utilization")
      : null;
    const pcieGeneration = fn.pcieLinkGeneration
      ? this.u32Out(slot, fn.pcieLinkGeneration, fn.pcieLinkGeneration.call(h, a), "pcie_link_generation")
      : null;
    const pcieWidth = fn.pcieLinkWidth
      ? this.u32Out(slot, fn.pcieLinkWidth, fn.pcieLinkWidth.call(h, a), "pcie_link_width")
      : null;
    const pcie = fn.pcieThroughput;
    const pcieTx = pcie ? this.u32Out(slot, pcie, pcie.call(h, PCIE_UTIL_TX_BYTES, a), "pcie_tx_throughput") : null;
    const pcieRx = pcie ? this.u32Out(slot, pcie, pcie.call(h, PCIE_UTIL_RX_BYTES, a), "pcie_rx_throughput") : null;
    let remapped: [number, number, number, number] | null = null;
    const rows = fn.remappedRows;
    if (rows && this.called(slot, rows, rows.call(h, a, a + 4, b, b + 4), "remapped_rows")) {
      const view = slot.view;
      remapped = [view.getUint32(OUT_A, true), view.getUint32(OUT_A + 4, true), view.getUint32(OUT_B, true), view.getUint32(OUT_B + 4, true)];
    }
    const processes = this.processList(slot);
    let migMode: boolean | null = null;
    let migModePending: boolean | null = null;
    if (fn.migMode && this.called(slot, fn.migMode, fn.migMode.call(h, a, b), "mig_mode")) {
      migMode = slot.view.getUint32(OUT_A, true) === MIG_ENABLED;
      migModePending = slot.view.getUint32(OUT_B, true) === MIG_ENABLED;
    }
    if (!migMode) this.forgetMigDevices(slot);
    slot.migMode = migMode;
    const gpm = slot.gpmSupported ? this.readGpm(slot, WHOLE_GPU) : null;
    // nvml.h: not supported on a GPU in MIG mode (its MIG devices hold the processes).
    const processUtilization = processes !== null && !migMode && slot.processUtilization ? this.readProcessUtilization(slot) : null;

    return {
      index: slot.index,
      uuid: slot.uuid,
      name: slot.name,
      serial: slot.serial,
      pciBusId: slot.pci?.busId ?? null,
      memoryTotalBytes: memory?.totalBytes ?? null,
      memoryUsedBytes: memory?.usedBytes ?? null,
      memoryFreeBytes: memory?.freeBytes ?? null,
      memoryReservedBytes: memory?.reservedBytes ?? null,
      gpuUtilizationPercent: gpuUtilization,
      memoryUtilizationPercent: memoryUtilization,
      temperatureCelsius: temperature,
      fanSpeedsPercent: fans,
      powerUsageMilliwatts: powerMilliwatts,
      powerLimitMilliwatts: limitMilliwatts,
      energyMillijoules: energy,
      graphicsClockMhz: graphicsClock,
      smClockMhz: smClock,
      memoryClockMhz: memoryClock,
      performanceState: performanceState === null ? null : decodePerformanceState(performanceState),
      clockEventReasons,
      eccEnabled: slot.eccEnabled,
      eccErrorsCorrected: eccCorrected,
      eccErrorsUncorrected: eccUncorrected,
      encoderUtilizationPercent: encoder,
      decoderUtilizationPercent: decoder,
      pcieLinkGeneration: pcieGeneration,
      pcieLinkWidth: pcieWidth,
      pcieTxKilobytesPerSecond: pcieTx,
      pcieRxKilobytesPerSecond: pcieRx,
      remappedRowsCorrectable: remapped?.[0] ?? null,
      remappedRowsUncorrectable: remapped?.[1] ?? null,
      remappedRowsPending: remapped ? remapped[2] !== 0 : null,
      remappedRowsFailure: remapped ? remapped[3] !== 0 : null,
      utilizationSamples: 0,
      busyMilliseconds: null,
      processes,
      migMode,
      migModePending,
      parentUuid: null,
      gpuInstanceId: null,
      computeInstanceId: null,
      migProfile: null,
      gpm,
      processUtilization,
      fieldErrors: slot.errors ?? NO_FIELD_ERRORS,
    };
  }

  // ---- MIG devices and GPM ------------------------------------------------

  readMigDevices(index: number): GpuReading[] {
    this.ensureOpen();
    const parent = this.slots.get(index);
    const { maxMigDeviceCount: maxCount, migDeviceHandleByIndex: byIndex } = this.fn;
    if (!parent || parent.migMode !== true || !maxCount || !byIndex) return [];
    try {
      return this.readMigSlots(parent, maxCount, byIndex);
    } catch (error) {
      this.dropSlot(index);
      throw error;
    }
  }

  gpmSupported(index: number): boolean | null {
    this.ensureOpen();
    return this.slot(index).gpmSupported;
  }

  private readMigSlots(parent: DeviceSlot, maxCount: BoundFunction, byIndex: BoundFunction): GpuReading[] {
    const readings: GpuReading[] = [];
    if (!this.called(parent, maxCount, maxCount.call(parent.handle, parent.base + OUT_A), "mig_devices")) return readings;
    const max = parent.view.getUint32(OUT_A, true);
    const devices = (parent.migDevices ??= new Map());
    const instances = new Set<number>();
    const activity = new Map<number, GpmActivity | null>();
    for (let migIndex = 0; migIndex < max; migIndex++) {
      const code = byIndex.call(parent.handle, migIndex, parent.base + OUT_A);
      if (code !== 0) {
        // NOT_FOUND: no MIG device at this index (the layout has holes).
        devices.delete(migIndex);
        if (failureScope(code) === "gpu") throw new NvmlError(code, byIndex.symbol, `GPU ${parent.index} MIG device ${migIndex}`);
        continue;
      }
      const handle = Number(parent.view.getBigUint64(OUT_A, true));
      const device = this.migSlot(parent, devices, migIndex, handle);
      if (!device) continue;
      device.errors = device.staticErrors && { ...device.staticErrors };
      const gpuInstance = device.mig!.gpuInstanceId;
      if (gpuInstance !== null) instances.add(gpuInstance);
      if (gpuInstance !== null && parent.gpmSupported && this.fn.gpmMigSampleGet && !activity.has(gpuInstance)) {
        // A failure is the MIG device's (the first of its GPU instance), not its GPU's.
        activity.set(gpuInstance, this.readGpm(parent, gpuInstance, device));
      }
      readings.push(this.readMigSlot(parent, device, gpuInstance === null ? null : (activity.get(gpuInstance) ?? null)));
    }
    // Instances gone from the layout: their samples are freed, a new one starts afresh.
    for (const source of parent.gpm?.keys() ?? []) if (source !== WHOLE_GPU && !instances.has(source)) this.freeGpm(parent, source);
    return readings;
  }

  /** The slot of the MIG device at `migIndex`: kept while the same handle answers with the same uuid, else read afresh. */
  private migSlot(parent: DeviceSlot, devices: Map<number, DeviceSlot>, migIndex: number, handle: number): DeviceSlot | null {
    const uuidFn = this.fn.uuid!;
    let device = devices.get(migIndex);
    if (!device || device.handle !== handle) device = this.newSlot(parent.index, handle);
    device.bytes.fill(0, OUT_STRING, OUT_STRING + BUFFER_SIZE.uuid);
    if (uuidFn.call(handle, device.base + OUT_STRING, BUFFER_SIZE.uuid) !== 0) {
      devices.delete(migIndex); // gone between the enumeration and this call
      return null;
    }
    const uuid = readCString(device.bytes, OUT_STRING, BUFFER_SIZE.uuid);
    if (device.mig && device.uuid === uuid) return device;
    device = device.mig ? this.newSlot(parent.index, handle) : device;
    device.uuid = uuid;
    device.name = this.deviceString(device, this.fn.name, BUFFER_SIZE.name, "name");
    device.mig = {
      parentUuid: parent.uuid,
      gpuInstanceId: this.instanceId(device, this.fn.gpuInstanceId, "gpu_instance_id"),
      computeInstanceId: this.instanceId(device, this.fn.computeInstanceId, "compute_instance_id"),
      profile: migProfileFromName(device.name),
    };
    device.staticErrors = device.errors;
    devices.set(migIndex, device);
    return device;
  }

  private instanceId(device: DeviceSlot, bound: BoundFunction | null, field: string): number | null {
    if (!bound) return null;
    return this.called(device, bound, bound.call(device.handle, device.base + OUT_A), field) ? device.view.getUint32(OUT_A, true) : null;
  }

  /** A MIG device's reading: identity, memory, processes and its GPU instance's activity; the rest is the GPU's. */
  private readMigSlot(parent: DeviceSlot, device: DeviceSlot, gpm: GpmActivity | null): GpuReading {
    const fn = this.fn;
    const memory = this.readMemory(device);
    let gpuUtilization: number | null = null;
    let memoryUtilization: number | null = null;
    // NOT_SUPPORTED on the drivers seen so far; asked in case a driver answers.
    if (fn.utilization && this.called(device, fn.utilization, fn.utilization.call(device.handle, device.base + OUT_A), "utilization")) {
      gpuUtilization = utilizationGpu(device.view, OUT_A);
      memoryUtilization = utilizationMemory(device.view, OUT_A);
    }
    const processes = this.processList(device);
    const mig = device.mig!;
    return {
      index: parent.index,
      uuid: device.uuid,
      name: device.name,
      serial: null,
      pciBusId: parent.pci?.busId ?? null,
      memoryTotalBytes: memory?.totalBytes ?? null,
      memoryUsedBytes: memory?.usedBytes ?? null,
      memoryFreeBytes: memory?.freeBytes ?? null,
      memoryReservedBytes: memory?.reservedBytes ?? null,
      gpuUtilizationPercent: gpuUtilization,
      memoryUtilizationPercent: memoryUtilization,
      ...MIG_DEVICE_HAS_NONE,
      processes,
      parentUuid: mig.parentUuid,
      gpuInstanceId: mig.gpuInstanceId,
      computeInstanceId: mig.computeInstanceId,
      migProfile: mig.profile,
      gpm,
      fieldErrors: device.errors ?? NO_FIELD_ERRORS,
    };
  }

  /** nvmlGpmQueryDeviceSupport, once per GPU; null where the driver has no GPM. */
  private readGpmSupport(slot: DeviceSlot): boolean | null {
    const { gpmQueryDeviceSupport: query, gpmSampleAlloc, gpmSampleGet, gpmMetricsGet } = this.fn;
    if (!query || !gpmSampleAlloc || !gpmSampleGet || !gpmMetricsGet) return null;
    slot.view.setUint32(OUT_A, GPM_SUPPORT_VERSION, true);
    slot.view.setUint32(OUT_A + 4, 0, true);
    if (!this.called(slot, query, query.call(slot.handle, slot.base + OUT_A), "gpm_support")) return false;
    return slot.view.getUint32(OUT_A + 4, true) !== 0;
  }

  /**
   * Takes a GPM sample of one source (the GPU, or one of its GPU instances) and
   * returns the activity since the previous one; null for the first sample, and
   * after a failed one (a value over a span that lost a sample is never given).
   */
  private readGpm(slot: DeviceSlot, source: number, report: DeviceSlot = slot): GpmActivity | null {
    const pair = this.gpmPair(slot, source, report);
    if (!pair) return null;
    if (pair.takenFor !== report.uuid) {
      pair.previousAtMs = null;
      pair.takenFor = report.uuid;
    }
    const take = source === WHOLE_GPU ? this.fn.gpmSampleGet! : this.fn.gpmMigSampleGet!;
    const code = source === WHOLE_GPU ? take.call(slot.handle, pair.next) : take.call(slot.handle, source, pair.next);
    const atMs = performance.now();
    if (!this.called(report, take, code, "gpm")) {
      pair.previousAtMs = null;
      return null;
    }
    const previousAtMs = pair.previousAtMs;
    const [older, newer] = [pair.previous, pair.next];
    pair.previous = newer;
    pair.next = older;
    pair.previousAtMs = atMs;
    if (previousAtMs === null) return null;
    const request = this.gpmRequest;
    encodeGpmMetricsGet(request.view, 0, older, newer, GPM_METRIC_IDS);
    const metricsGet = this.fn.gpmMetricsGet!;
    if (!this.called(report, metricsGet, metricsGet.call(request.base), "gpm")) return null;
    const [sm, occupancy, tensor, dram, graphics] = decodeGpmMetrics(request.view, 0, GPM_METRIC_IDS.length).map((value) => gpmPercent(value ?? null));
    return {
      spanMs: atMs - previousAtMs,
      smActivityPercent: sm ?? null,
      smOccupancyPercent: occupancy ?? null,
      tensorActivityPercent: tensor ?? null,
      dramActivityPercent: dram ?? null,
      graphicsActivityPercent: graphics ?? null,
    };
  }

  /** The source's two sample buffers, allocated at its first reading; null when NVML will not allocate them. */
  private gpmPair(slot: DeviceSlot, source: number, report: DeviceSlot): GpmPair | null {
    const existing = slot.gpm?.get(source);
    if (existing) return existing;
    const alloc = this.fn.gpmSampleAlloc!;
    const handles: number[] = [];
    for (let i = 0; i < 2; i++) {
      this.scratch.fill(0, 0, 8);
      if (!this.called(report, alloc, alloc.call(this.scratchBase), "gpm")) {
        for (const handle of handles) this.fn.gpmSampleFree?.call(handle);
        return null;
      }
      handles.push(Number(this.scratchView.getBigUint64(0, true)));
    }
    const pair: GpmPair = { previous: handles[0]!, next: handles[1]!, previousAtMs: null, takenFor: report.uuid };
    (slot.gpm ??= new Map()).set(source, pair);
    return pair;
  }

  private freeGpm(slot: DeviceSlot, source?: number): void {
    if (!slot.gpm) return;
    for (const [key, pair] of slot.gpm) {
      if (source !== undefined && key !== source) continue;
      this.fn.gpmSampleFree?.call(pair.previous);
      this.fn.gpmSampleFree?.call(pair.next);
      slot.gpm.delete(key);
    }
  }

  private forgetMigDevices(slot: DeviceSlot): void {
    slot.migDevices = null;
    for (const source of slot.gpm?.keys() ?? []) if (source !== WHOLE_GPU) this.freeGpm(slot, source);
  }

  /** Forgets a GPU (lost, reset): its next read opens it afresh. */
  private dropSlot(index: number): void {
    const slot = this.slots.get(index);
    if (slot) this.freeGpm(slot);
    this.slots.delete(index);
  }

  /** The unsigned int an out-parameter call wrote at OUT_A, or null. */
  private u32Out(slot: DeviceSlot, bound: BoundFunction, code: number, field: string): number | null {
    return this.called(slot, bound, code, field) ? slot.view.getUint32(OUT_A, true) : null;
  }

  /** The unsigned long long an out-parameter call wrote at OUT_A, or null. */
  private u64Out(slot: DeviceSlot, bound: BoundFunction, code: number, field: string): number | null {
    return this.called(slot, bound, code, field) ? readU64(slot.view, OUT_A) : null;
  }

  /**
   * Decides what a failed metric means: absent (null), the GPU is gone (throw),
   * or an unexpected error on this metric alone (null, and recorded).
   */
  private called(slot: DeviceSlot, bound: BoundFunction, code: number, field: string): boolean {
    if (code === 0) return true;
    switch (failureScope(code)) {
      case "absent":
        return false;
      case "gpu":
        throw new NvmlError(code, bound.symbol, `GPU ${slot.index}`);
      case "field":
        (slot.errors ??= {})[field] = returnCodeName(code);
        return false;
    }
  }

  private readMemory(slot: DeviceSlot): MemoryInfo | null {
    const { view, base } = slot;
    for (let bound = slot.memoryInfo; bound; bound = slot.memoryInfo) {
      const isV2 = bound.symbol.endsWith("_v2");
      if (isV2) view.setUint32(OUT_MEMORY, MEMORY_V2_VERSION, true);
      const code = bound.call(slot.handle, base + OUT_MEMORY);
      if (demoted(slot, "memoryInfo", bound, code)) continue;
      if (!this.called(slot, bound, code, "memory")) return null;
      return isV2 ? decodeMemoryV2(view, OUT_MEMORY) : decodeMemoryV1(view, OUT_MEMORY);
    }
    return null;
  }

  private readClockEventReasons(slot: DeviceSlot): number | null {
    for (let bound = slot.clockEventReasons; bound; bound = slot.clockEventReasons) {
      const code = bound.call(slot.handle, slot.base + OUT_A);
      if (demoted(slot, "clockEventReasons", bound, code)) continue;
      return this.u64Out(slot, bound, code, "clock_event_reasons");
    }
    return null;
  }

  /**
   * Per-fan speeds through nvmlDeviceGetFanSpeed_v2; when a fan will not answer
   * or no fan count is known, the single-fan call gives what it can.
   */
  private readFans(slot: DeviceSlot): number[] | null {
    const { handle, base, view } = slot;
    const perFan = this.fn.fanSpeedOfFan;
    if (perFan && slot.fanCount !== null && slot.fanCount > 0) {
      const speeds: number[] = [];
      for (let fan = 0; fan < slot.fanCount; fan++) {
        if (!this.called(slot, perFan, perFan.call(handle, fan, base + OUT_A), "fan_speed")) break;
        speeds.push(view.getUint32(OUT_A, true));
      }
      if (speeds.length === slot.fanCount) return speeds;
      if (slot.errors) delete slot.errors.fan_speed; // let the single-fan call decide
    }
    const single = this.fn.fanSpeed;
    if (single && this.called(slot, single, single.call(handle, base + OUT_A), "fan_speed")) {
      return [view.getUint32(OUT_A, true)];
    }
    return null;
  }

  private eccCount(slot: DeviceSlot, errorType: number, field: string): number | null {
    const bound = this.fn.totalEccErrors;
    if (!bound) return null;
    const code = bound.call(slot.handle, errorType, ECC_COUNTER_VOLATILE, slot.base + OUT_A);
    return this.called(slot, bound, code, field) ? readU64(slot.view, OUT_A) : null;
  }

  /** A device's compute, graphics and MPS client processes; null when NVML refused a list (the refusal stays in fieldErrors) or has none. */
  private processList(slot: DeviceSlot): GpuProcess[] | null {
    const compute = slot.computeProcesses ? this.readProcesses(slot, slot.computeProcesses, "compute", null) : null;
    const withGraphics = slot.graphicsProcesses ? this.readProcesses(slot, slot.graphicsProcesses, "graphics", compute) : compute;
    const processes = slot.mpsProcesses ? this.readProcesses(slot, slot.mpsProcesses, "mps", withGraphics) : withGraphics;
    // A list NVML refused is not an empty list: no list at all.
    const errors = slot.errors;
    const refused =
      errors !== null &&
      (errors.compute_processes === NO_PERMISSION_NAME || errors.graphics_processes === NO_PERMISSION_NAME || errors.mps_processes === NO_PERMISSION_NAME);
    return refused ? null : processes;
  }

  /** Appends this kind's processes to `into`; null only when no list could be read at all. */
  private readProcesses(
    slot: DeviceSlot,
    first: BoundFunction,
    kind: ProcessKind,
    into: GpuProcess[] | null,
  ): GpuProcess[] | null {
    const field = `${kind}_processes`;
    let bound = first;
    // Every pid slot is 0 before each call (the last decode clears the pids it read),
    // so entries a driver did not write decode as pid 0 and are dropped.
    for (let attempt = 0; attempt < PROCESS_LIST_ATTEMPTS; attempt++) {
      slot.view.setUint32(OUT_A, slot.processCapacity, true);
      const code = bound.call(slot.handle, slot.base + OUT_A, slot.processBase);
      const count = slot.view.getUint32(OUT_A, true);
      if (code !== 0 && bound.older && DEMOTE_ON.has(code)) {
        bound = bound.older;
        if (kind === "compute") slot.computeProcesses = bound;
        else if (kind === "graphics") slot.graphicsProcesses = bound;
        else slot.mpsProcesses = bound;
        continue;
      }
      if (code === INSUFFICIENT_SIZE) {
        // The list grew since the driver last counted it: make room with slack and ask again.
        if (count > MAX_PROCESS_CAPACITY) break;
        growProcessBuffer(slot, Math.min(MAX_PROCESS_CAPACITY, Math.max(count + 16, slot.processCapacity * 2)));
        continue;
      }
      if (code === NO_PERMISSION) {
        // "absent" for a metric, but a refused process list must be told from an empty one.
        (slot.errors ??= {})[field] = NO_PERMISSION_NAME;
        return into;
      }
      if (!this.called(slot, bound, code, field)) return into;
      const entries = Math.min(count, slot.processCapacity);
      const stride = this.processStride(bound.symbol, slot, entries);
      const list = decodeProcessEntries(slot.processView, 0, entries, stride, kind, into ?? []);
      for (let i = 0; i < entries; i++) slot.processView.setUint32(i * stride, 0, true);
      return dropUnwritten(list);
    }
    (slot.errors ??= {})[field] = returnCodeName(INSUFFICIENT_SIZE);
    return into;
  }

  /**
   * Per-process utilization since the last read of this GPU, averaged per pid. NOT_FOUND
   * means no process used the GPU since then ([]); a GPU that does not support it is not
   * asked again.
   */
  private readProcessUtilization(slot: DeviceSlot): ProcessUtilization[] | null {
    const bound = slot.processUtilization!;
    let buffer = slot.utilizationBuffer ?? allocateUtilizationBuffer(slot, INITIAL_PROCESS_CAPACITY);
    for (let attempt = 0; attempt < PROCESS_LIST_ATTEMPTS; attempt++) {
      slot.view.setUint32(OUT_A, buffer.capacity, true);
      const code = bound.call(slot.handle, buffer.base, slot.base + OUT_A, slot.utilizationLastSeenUs);
      const count = slot.view.getUint32(OUT_A, true);
      if (code === NOT_FOUND) return [];
      if (code === INSUFFICIENT_SIZE) {
        if (count > MAX_PROCESS_CAPACITY) break;
        buffer = allocateUtilizationBuffer(slot, Math.min(MAX_PROCESS_CAPACITY, Math.max(count + 16, buffer.capacity * 2)));
        continue;
      }
      if (code === NOT_SUPPORTED || code === FUNCTION_NOT_FOUND) {
        slot.processUtilization = null;
        return null;
      }
      if (code === NO_PERMISSION) return null;
      if (!this.called(slot, bound, code, "process_utilization")) return null;
      const { byPid, newestUs } = decodeProcessUtilization(buffer.view, 0, Math.min(count, buffer.capacity));
      buffer.bytes.fill(0, 0, Math.min(count, buffer.capacity) * PROCESS_UTILIZATION_SAMPLE_SIZE);
      if (newestUs > slot.utilizationLastSeenUs) slot.utilizationLastSeenUs = newestUs;
      return byPid;
    }
    (slot.errors ??= {}).process_utilization = returnCodeName(INSUFFICIENT_SIZE);
    return null;
  }

  private processStride(symbol: string, slot: DeviceSlot, count: number): number {
    if (symbol.endsWith("_v3")) {
      this.wideV3Entries ??= writesWideV3ProcessEntries(this.driverVersion());
      return v3ProcessStride(slot.processView, 0, count, this.wideV3Entries);
    }
    return symbol.endsWith("_v2") ? PROCESS_ENTRY_SIZE.v2 : PROCESS_ENTRY_SIZE.v1;
  }

  private readPci(slot: DeviceSlot): PciInfo | null {
    for (let bound = this.fn.pciInfo; bound; bound = bound.older) {
      slot.bytes.fill(0, OUT_STRING, OUT_STRING + PCI_INFO_V3_SIZE);
      const code = bound.call(slot.handle, slot.base + OUT_STRING);
      if (bound.older && DEMOTE_ON.has(code)) continue;
      if (!this.called(slot, bound, code, "pci_bus_id")) return null;
      return bound.symbol.endsWith("_v3")
        ? decodePciInfoV3(slot.bytes, slot.view, OUT_STRING)
        : decodePciInfoLegacy(slot.view, OUT_STRING);
    }
    return null;
  }

  private readFanCount(slot: DeviceSlot): number | null {
    const bound = this.fn.numFans;
    if (!bound) return null;
    return this.called(slot, bound, bound.call(slot.handle, slot.base + OUT_A), "fan_count")
      ? slot.view.getUint32(OUT_A, true)
      : null;
  }

  private readEccMode(slot: DeviceSlot): boolean | null {
    const bound = this.fn.eccMode;
    if (!bound) return null;
    const code = bound.call(slot.handle, slot.base + OUT_A, slot.base + OUT_B);
    return this.called(slot, bound, code, "ecc_mode")
      ? slot.view.getUint32(OUT_A, true) === ENABLE_STATE_ENABLED
      : null;
  }

  private deviceString(
    slot: DeviceSlot,
    bound: BoundFunction | null,
    size: number,
    field: string,
  ): string | null {
    if (!bound) return null;
    slot.bytes.fill(0, OUT_STRING, OUT_STRING + size);
    if (!this.called(slot, bound, bound.call(slot.handle, slot.base + OUT_STRING, size), field)) return null;
    return readCString(slot.bytes, OUT_STRING, size) || null;
  }

  // ---- host ---------------------------------------------------------------

  private systemString(bound: BoundFunction | null, size: number): string | null {
    if (!bound) return null;
    this.scratch.fill(0, 0, size);
    if (bound.call(this.scratchBase, size) !== 0) return null;
    return readCString(this.scratch, 0, size) || null;
  }

  private cudaVersion(): string | null {
    for (let bound = this.fn.cudaDriverVersion; bound; bound = bound.older) {
      if (bound.call(this.scratchBase) === 0) return formatCudaVersion(this.scratchView.getInt32(0, true));
    }
    return null;
  }
}

/** Codes with which a newer symbol says "ask my older sibling". */
const DEMOTE_ON = new Set([NOT_SUPPORTED, FUNCTION_NOT_FOUND, ARGUMENT_VERSION_MISMATCH]);

type VersionedKey = "memoryInfo" | "clockEventReasons";

/** Moves this GPU to the older symbol when the newer one exists but will not answer. */
function demoted(slot: DeviceSlot, key: VersionedKey, bound: BoundFunction, code: number): boolean {
  if (code === 0 || !bound.older || !DEMOTE_ON.has(code)) return false;
  slot[key] = bound.older;
  return true;
}

/** Entries with pid 0 are slots the driver did not fill. */
function dropUnwritten(list: GpuProcess[]): GpuProcess[] {
  return list.some((entry) => entry.pid === 0) ? list.filter((entry) => entry.pid !== 0) : list;
}

function eventKind(type: number): DeviceEvent["kind"] | null {
  if (type & EVENT_TYPE.xid) return "xid";
  if (type & EVENT_TYPE.doubleBitEcc) return "double_bit_ecc";
  if (type & EVENT_TYPE.singleBitEcc) return "single_bit_ecc";
  if (type & EVENT_TYPE.gpuUnavailable) return "gpu_unavailable";
  return null;
}

function allocateSampleBuffer(slot: DeviceSlot, capacity: number): NonNullable<DeviceSlot["samples"]> {
  const bytes = new Uint8Array(capacity * SAMPLE_SIZE);
  slot.samples = {
    bytes,
    view: new DataView(bytes.buffer),
    words: new Uint32Array(bytes.buffer),
    base: ptr(bytes),
    capacity,
    out: { count: 0, timestampsUs: new Float64Array(capacity), values: new Float64Array(capacity) },
  };
  return slot.samples;
}

function allocateUtilizationBuffer(slot: DeviceSlot, capacity: number): NonNullable<DeviceSlot["utilizationBuffer"]> {
  const bytes = new Uint8Array(capacity * PROCESS_UTILIZATION_SAMPLE_SIZE);
  slot.utilizationBuffer = { bytes, view: new DataView(bytes.buffer), base: ptr(bytes), capacity };
  return slot.utilizationBuffer;
}

function growProcessBuffer(slot: DeviceSlot, capacity: number): void {
  slot.processBytes = new Uint8Array(capacity * PROCESS_ENTRY_MAX_SIZE);
  slot.processView = new DataView(slot.processBytes.buffer);
  slot.processBase = ptr(slot.processBytes);
  slot.processCapacity = capacity;
}

