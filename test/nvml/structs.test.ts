import { describe, expect, test } from "bun:test";
import {
  decodeProcessUtilization,
  PROCESS_UTILIZATION_SAMPLE_SIZE,
  decodeEventData,
  decodeGpmMetrics,
  gpmPercent,
  encodeGpmMetricsGet,
  GPM_METRICS_GET_SIZE,
  migProfileFromName,
  decodeSamples,
  decodeValue,
  EVENT_DATA_SIZE,
  EVENT_TYPE,
  SAMPLE_SIZE,
  VALUE_TYPE,
  clockEventReasonNames,
  decodeMemoryV1,
  decodeMemoryV2,
  decodePciInfoLegacy,
  decodePciInfoV3,
  decodePerformanceState,
  decodeProcessEntries,
  utilizationGpu,
  utilizationMemory,
  formatCudaVersion,
  formatPciBusId,
  MEMORY_V2_VERSION,
  PCI_INFO_LEGACY_SIZE,
  PCI_INFO_V3_SIZE,
  readCString,
  readU64,
  v3ProcessStride,
  writesWideV3ProcessEntries,
} from "../../src/nvml/structs.ts";

/** A little-endian byte builder for hand-made NVML structs. */
class Bytes {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u32(offset: number, value: number) {
    this.view.setUint32(offset, value, true);
    return this;
  }
  u64(offset: number, value: bigint) {
    this.view.setBigUint64(offset, value, true);
    return this;
  }
  str(offset: number, text: string) {
    this.bytes.set(new TextEncoder().encode(text), offset);
    return this;
  }
}

const NOT_AVAILABLE = 0xffff_ffff_ffff_ffffn;

describe("64-bit values", () => {
  test("reads values above 2^32 exactly without BigInt", () => {
    const b = new Bytes(8).u64(0, 85_899_345_920n); // 80 GiB
    expect(readU64(b.view, 0)).toBe(85_899_345_920);
  });
  test("NVML_VALUE_NOT_AVAILABLE is null", () => {
    expect(readU64(new Bytes(8).u64(0, NOT_AVAILABLE).view, 0)).toBeNull();
  });
  test("a value with only the low half all ones is not NOT_AVAILABLE", () => {
    expect(readU64(new Bytes(8).u64(0, 0xffff_ffffn).view, 0)).toBe(0xffff_ffff);
  });
});

describe("strings", () => {
  test("stops at the first NUL", () => {
    const b = new Bytes(96).str(0, "NVIDIA H100 80GB HBM3").str(40, "garbage");
    expect(readCString(b.bytes, 0, 96)).toBe("NVIDIA H100 80GB HBM3");
  });
  test("a full buffer without NUL is bounded by its size", () => {
    const b = new Bytes(8).str(0, "ABCDEFGH");
    expect(readCString(b.bytes, 0, 4)).toBe("ABCD");
  });
  test("decodes UTF-8", () => {
    const b = new Bytes(16).str(2, "Grafikkarte é");
    expect(readCString(b.bytes, 2, 14)).toBe("Grafikkarte é");
  });
});

describe("nvmlMemory_t and nvmlMemory_v2_t", () => {
  test("v2 version word is sizeof | 2 << 24", () => {
    expect(MEMORY_V2_VERSION).toBe(0x02000028);
  });
  test("v1 is total, free, used", () => {
    const b = new Bytes(24).u64(0, 25_757_220_864n).u64(8, 25_395_789_824n).u64(16, 361_431_040n);
    expect(decodeMemoryV1(b.view, 0)).toEqual({
      totalBytes: 25_757_220_864,
      freeBytes: 25_395_789_824,
      usedBytes: 361_431_040,
      reservedBytes: null,
    });
  });
  test("v2 has 4 bytes of padding after the version, then total, reserved, free, used", () => {
    const b = new Bytes(40)
      .u32(0, MEMORY_V2_VERSION)
      .u32(4, 0xdeadbeef) // padding must be ignored
      .u64(8, 85_520_809_984n)
      .u64(16, 536_870_912n)
      .u64(24, 80_688_971_776n)
      .u64(32, 4_294_967_296n);
    expect(decodeMemoryV2(b.view, 0)).toEqual({
      totalBytes: 85_520_809_984,
      reservedBytes: 536_870_912,
      freeBytes: 80_688_971_776,
      usedBytes: 4_294_967_296,
    });
  });
});

describe("nvmlPciInfo_t", () => {
  test("v3 is 68 bytes with busId[32] at offset 36", () => {
    expect(PCI_INFO_V3_SIZE).toBe(68);
    const b = new Bytes(68)
      .str(0, "0000:25:00.0")
      .u32(16, 0)
      .u32(20, 0x25)
      .u32(24, 0)
      .u32(28, 0x268410de)
      .u32(32, 0x16f410de)
      .str(36, "00000000:25:00.0");
    expect(decodePciInfoV3(b.bytes, b.view, 0)).toEqual({
      busId: "00000000:25:00.0",
      domain: 0,
      bus: 0x25,
      device: 0,
      pciDeviceId: 0x268410de,
      pciSubSystemId: 0x16f410de,
    });
  });
  test("the legacy layout's 4-digit bus id is rebuilt in the 8-digit form", () => {
    expect(PCI_INFO_LEGACY_SIZE).toBe(52);
    const b = new Bytes(52).str(0, "0001:C1:00.0").u32(16, 1).u32(20, 0xc1).u32(24, 0).u32(28, 0x1db410de);
    expect(decodePciInfoLegacy(b.view, 0).busId).toBe("00000001:C1:00.0");
  });
  test("formats bus ids in upper-case hex", () => {
    expect(formatPciBusId(0x10000, 0xab, 0x1f)).toBe("00010000:AB:1F.0");
  });
});

describe("process lists", () => {
  function entries(stride: number, list: Array<[pid: number, used: bigint, gi?: number, ci?: number]>) {
    const b = new Bytes(stride * list.length);
    list.forEach(([pid, used, gi = 0xffffffff, ci = 0xffffffff], i) => {
      b.u32(i * stride, pid).u32(i * stride + 4, 0xcccccccc).u64(i * stride + 8, used);
      if (stride >= 24) b.u32(i * stride + 16, gi).u32(i * stride + 20, ci);
    });
    return b;
  }

  test("v1 entries are 16 bytes, pid then 64-bit memory after padding", () => {
    const b = entries(16, [
      [4242, 1_048_576n],
      [4343, NOT_AVAILABLE],
    ]);
    expect(decodeProcessEntries(b.view, 0, 2, 16, "compute")).toEqual([
      { kind: "compute", pid: 4242, usedMemoryBytes: 1_048_576, gpuInstanceId: null, computeInstanceId: null },
      { kind: "compute", pid: 4343, usedMemoryBytes: null, gpuInstanceId: null, computeInstanceId: null },
    ]);
  });

  test("v2/v3 entries are 24 bytes with MIG instance ids; 0xFFFFFFFF means none", () => {
    const b = entries(24, [
      [100, 2n ** 33n, 0xffffffff, 0xffffffff],
      [200, 512n, 1, 0],
    ]);
    expect(decodeProcessEntries(b.view, 0, 2, 24, "compute")).toEqual([
      { kind: "compute", pid: 100, usedMemoryBytes: 2 ** 33, gpuInstanceId: null, computeInstanceId: null },
      { kind: "compute", pid: 200, usedMemoryBytes: 512, gpuInstanceId: 1, computeInstanceId: 0 },
    ]);
  });

  test("drivers 535.43 to 535.86 write 32-byte _v3 entries", () => {
    expect(writesWideV3ProcessEntries("535.43.02")).toBe(true);
    expect(writesWideV3ProcessEntries("535.54.03")).toBe(true);
    expect(writesWideV3ProcessEntries("535.86.10")).toBe(true);
    expect(writesWideV3ProcessEntries("535.98")).toBe(false);
    expect(writesWideV3ProcessEntries("535.42")).toBe(false);
    expect(writesWideV3ProcessEntries("550.54.15")).toBe(false);
    expect(writesWideV3ProcessEntries(null)).toBe(false);
  });

  test("entries are appended to an existing list", () => {
    const b = entries(16, [[7, 1n]]);
    const list = decodeProcessEntries(b.view, 0, 1, 16, "compute");
    expect(decodeProcessEntries(b.view, 0, 1, 16, "graphics", list).map((e) => e.kind)).toEqual(["compute", "graphics"]);
  });

  test("the stride follows the driver version", () => {
    const wide = entries(32, [
      [1001, 10n],
      [1002, 20n],
      [1003, 30n],
    ]);
    expect(v3ProcessStride(wide.view, 0, 3, writesWideV3ProcessEntries("535.54.03"))).toBe(32);
    expect(decodeProcessEntries(wide.view, 0, 3, 32, "compute").map((e) => e.pid)).toEqual([1001, 1002, 1003]);
  });

  test("a 535 driver that writes the header's 24-byte entries is decoded at 24", () => {
    const narrow = entries(24, [
      [1000, 1_048_576n],
      [1001, 2_097_152n],
      [1002, 4_194_304n],
    ]);
    expect(v3ProcessStride(narrow.view, 0, 3, writesWideV3ProcessEntries("535.54.03"))).toBe(24);
  });

  test("an unknown driver writing 32-byte entries is recognised from the bytes", () => {
    const wide = entries(32, [
      [1001, 10n],
      [1002, 20n],
    ]);
    expect(v3ProcessStride(wide.view, 0, 2, false)).toBe(32);
    const narrow = entries(24, [
      [1001, 10n],
      [1002, 20n],
    ]);
    expect(v3ProcessStride(narrow.view, 0, 2, writesWideV3ProcessEntries("550.54.15"))).toBe(24);
    expect(v3ProcessStride(narrow.view, 0, 2, false)).toBe(24);
  });
});

describe("nvmlProcessUtilizationSample_t", () => {
  test("32 bytes: pid, 4 bytes of padding, u64 timestamp, then sm, mem, enc, dec; averaged per pid", () => {
    expect(PROCESS_UTILIZATION_SAMPLE_SIZE).toBe(32);
    const b = new Bytes(96)
      .u32(0, 4242).u32(4, 0xdeadbeef).u64(8, 1_700_000_000_000_000n).u32(16, 80).u32(20, 10).u32(24, 1).u32(28, 2)
      .u32(32, 4242).u64(40, 1_700_000_000_500_000n).u32(48, 40).u32(52, 30).u32(56, 3).u32(60, 4)
      .u32(64, 77).u64(72, 1_700_000_000_200_000n).u32(80, 5).u32(84, 6).u32(88, 7).u32(92, 8);
    expect(decodeProcessUtilization(b.view, 0, 3)).toEqual({
      byPid: [
        { pid: 4242, smPercent: 60, memoryPercent: 20, encoderPercent: 2, decoderPercent: 3 },
        { pid: 77, smPercent: 5, memoryPercent: 6, encoderPercent: 7, decoderPercent: 8 },
      ],
      newestUs: 1_700_000_000_500_000,
    });
  });
});

describe("small values", () => {
  test("utilization is two unsigned ints", () => {
    const view = new Bytes(8).u32(0, 97).u32(4, 41).view;
    expect([utilizationGpu(view, 0), utilizationMemory(view, 0)]).toEqual([97, 41]);
  });
  test("CUDA version 12040 is 12.4, 11080 is 11.8", () => {
    expect(formatCudaVersion(12040)).toBe("12.4");
    expect(formatCudaVersion(11080)).toBe("11.8");
    expect(formatCudaVersion(12090)).toBe("12.9");
  });
  test("performance state 32 is unknown", () => {
    expect(decodePerformanceState(0)).toBe(0);
    expect(decodePerformanceState(8)).toBe(8);
    expect(decodePerformanceState(32)).toBeNull();
  });
  test("clock event reasons are named by bit", () => {
    expect(clockEventReasonNames(0)).toEqual([]);
    expect(clockEventReasonNames(0x1 | 0x4 | 0x40)).toEqual(["gpu_idle", "sw_power_cap", "hw_thermal_slowdown"]);
  });
});

describe("driver samples and events", () => {
  test("nvmlSample_t: a u64 timestamp and an 8-byte value union, 16 bytes each; unsigned ints read through the word view", () => {
    const bytes = new Uint8Array(2 * SAMPLE_SIZE);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, 1_733_500_000_123_456n, true);
    view.setUint32(8, 87, true);
    view.setBigUint64(16, 1_733_500_000_290_123n, true);
    view.setUint32(24, 0xffff_fff0, true);
    const timestamps = new Float64Array(2);
    const values = new Float64Array(2);
    decodeSamples(view, new Uint32Array(bytes.buffer), 2, VALUE_TYPE.unsignedInt, timestamps, values);
    expect(Array.from(timestamps)).toEqual([1_733_500_000_123_456, 1_733_500_000_290_123]);
    expect(Array.from(values)).toEqual([87, 0xffff_fff0]);
  });

  test("the other value types of the union; unsigned long is 4 bytes on Windows", () => {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, 12.5, true);
    expect(decodeValue(view, 0, VALUE_TYPE.double)).toBe(12.5);
    view.setBigInt64(0, -5n, true);
    expect(decodeValue(view, 0, VALUE_TYPE.signedLongLong)).toBe(-5);
    view.setBigUint64(0, 0x1_0000_0007n, true);
    expect(decodeValue(view, 0, VALUE_TYPE.unsignedLong, 8)).toBe(0x1_0000_0007);
    expect(decodeValue(view, 0, VALUE_TYPE.unsignedLong, 4)).toBe(7);
    expect(decodeValue(view, 0, VALUE_TYPE.unsignedShort)).toBe(7);
    expect(decodeValue(view, 0, 42)).toBeNull();
  });

  test("nvmlEventData_t: device handle, event type and data (the XID) at 0, 8 and 16", () => {
    const view = new DataView(new ArrayBuffer(EVENT_DATA_SIZE));
    view.setBigUint64(0, 0x7f00_1234_5678n, true);
    view.setBigUint64(8, 0x8n, true);
    view.setBigUint64(16, 79n, true);
    expect(decodeEventData(view, 0)).toEqual({ device: 0x7f00_1234_5678, type: EVENT_TYPE.xid, data: 79 });
  });
});

describe("GPM and MIG", () => {
  test("nvmlGpmMetricsGet_t: version and count, two sample pointers, then 40-byte nvmlGpmMetric_t entries from byte 24", () => {
    const bytes = new Uint8Array(GPM_METRICS_GET_SIZE);
    const view = new DataView(bytes.buffer);
    expect(GPM_METRICS_GET_SIZE).toBe(24 + 333 * 40);
    encodeGpmMetricsGet(view, 0, 0x1122334455, 0x66778899aa, [2, 3]);
    expect([view.getUint32(0, true), view.getUint32(4, true)]).toEqual([1, 2]);
    expect([view.getBigUint64(8, true), view.getBigUint64(16, true)]).toEqual([0x1122334455n, 0x66778899aan]);
    expect([view.getUint32(24, true), view.getUint32(64, true)]).toEqual([2, 3]);
    // What the driver writes back: metric 0 answered, metric 1 NOT_SUPPORTED (its value is not valid).
    view.setUint32(24 + 4, 0, true);
    view.setFloat64(24 + 8, 42.125, true);
    view.setUint32(64 + 4, 3, true);
    view.setFloat64(64 + 8, 99, true);
    expect(decodeGpmMetrics(view, 0, 2)).toEqual([42.125, null]);
  });

  test("a GPM percentage strayed past either end is held to 0–100 (the exporter's ratios stay within 0–1); none stays none", () => {
    expect([gpmPercent(100.37), gpmPercent(-0.02), gpmPercent(42.5), gpmPercent(0), gpmPercent(100), gpmPercent(null)]).toEqual([100, 0, 42.5, 0, 100, null]);
  });

  test("a MIG device's profile is the last word of its name after MIG", () => {
    expect(migProfileFromName("NVIDIA H100 80GB HBM3 MIG 1g.10gb")).toBe("1g.10gb");
    expect(migProfileFromName("NVIDIA A100-SXM4-40GB MIG 1c.3g.20gb")).toBe("1c.3g.20gb");
    expect(migProfileFromName("NVIDIA H100 80GB HBM3")).toBeNull();
    expect(migProfileFromName(null)).toBeNull();
  });
});
