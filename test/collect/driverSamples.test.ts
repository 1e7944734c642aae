// Usage over the whole interval from the driver's sample buffers: the
// time-weighted average, busy time, gaps, and the fallback to the instant.

import { describe, expect, test } from "bun:test";
import { DriverSampling, estimatePeriodUs, IntervalAverager, pollPeriodMs } from "../../src/collect/driverSamples.ts";
import type { DriverSamples, GpuReading, Nvml, SampleKind } from "../../src/nvml/index.ts";
import { gpuSample } from "../helpers/samples.ts";

function samples(points: Array<[atUs: number, value: number]>): DriverSamples {
  return {
    count: points.length,
    timestampsUs: Float64Array.from(points.map(([at]) => at)),
    values: Float64Array.from(points.map(([, value]) => value)),
  };
}

describe("IntervalAverager", () => {
  test("weights each sample by the time since the one before it", () => {
    const averager = new IntervalAverager(100_000, 1_000_000);
    // 100 % for 0.3 s, then 0 % for 0.1 s
    averager.add(samples([[1_100_000, 100], [1_200_000, 100], [1_300_000, 100], [1_400_000, 0]]));
    expect(averager.take()).toEqual({ average: 75, count: 4, busyMs: 300, coveredMs: 400 });
    expect(averager.take()).toBeNull(); // taken: the next interval starts empty
  });

  test("samples already counted are skipped; the next read starts after the newest", () => {
    const averager = new IntervalAverager(100_000, 1_000_000);
    averager.add(samples([[900_000, 50], [1_000_000, 50], [1_100_000, 20]]));
    expect(averager.afterUs).toBe(1_100_000);
    averager.add(samples([[1_100_000, 20], [1_200_000, 40]]));
    expect(averager.take()!.average).toBe(30);
  });

  test("after a gap (a ring that wrapped unread) a sample stands for one period, and the lost time is counted", () => {
    const averager = new IntervalAverager(100_000, 1_000_000);
    averager.add(samples([[1_100_000, 0], [2_000_000, 100]]));
    const summary = averager.take()!;
    expect(summary.average).toBe(50); // not 90: the unseen 0.8 s is not filled in
    expect(averager.lostMs).toBe(800);
  });

  test("half of each interval at 100 % averages 50 %, where a reading at the tick says 100 or 0", () => {
    const averager = new IntervalAverager(100_000, 0);
    const points: Array<[number, number]> = [];
    for (let k = 1; k <= 600; k++) points.push([k * 100_000, k % 10 < 5 ? 100 : 0]); // a 1 s cycle over 60 s
    averager.add(samples(points));
    expect(averager.take()!.average).toBeCloseTo(50, 5);
  });
});

describe("the driver's period and the poll period", () => {
  test("the period is the median step; two samples are needed", () => {
    expect(estimatePeriodUs(samples([[0, 1], [166_000, 1], [333_000, 1], [1_000_000, 1]]))).toBe(167_000);
    expect(estimatePeriodUs(samples([[5, 1]]))).toBe(166_667);
  });

  test("buffers are read 2 s before the shortest would wrap (at least twice per span), between 0.25 s and 10 s", () => {
    expect(pollPeriodMs([16_700, 2_000])).toBe(1_000);
    expect(pollPeriodMs([10_000])).toBe(8_000);
    expect(pollPeriodMs([100])).toBe(250);
    expect(pollPeriodMs([600_000])).toBe(10_000);
    expect(pollPeriodMs([])).toBe(10_000);
  });
});

/** A TypeScript stand-in with one GPU whose buffers answer what the test queues. */
function standIn(buffers: Partial<Record<SampleKind, Array<[number, number]>>>): Nvml {
  return {
    libraryPath: "stand-in",
    boundSymbols: {},
    driverVersion: () => null,
    host: () => ({ driverVersion: null, nvmlVersion: null, cudaDriverVersion: null }),
    deviceCount: () => 1,
    readGpu: () => gpuSample() as GpuReading,
    processName: () => null,
    close: () => {},
    sampleBufferLength: (_index, kind) => (buffers[kind] ? 100 : null),
    readSamples: (_index, kind, afterUs) => {
      const queued = buffers[kind];
      return queued ? samples(queued.filter(([at]) => at > afterUs)) : null;
    },
  };
}

describe("DriverSampling", () => {
  test("replaces the instant's utilization and power with the interval's averages, and says so", () => {
    const buffers: Partial<Record<SampleKind, Array<[number, number]>>> = { gpu_utilization: [[1_000_000, 0]], power: [[1_000_000, 100_000]] };
    const nvml = standIn(buffers);
    const sampling = new DriverSampling();
    sampling.attach(nvml, 0, gpuSample().uuid);
    buffers.gpu_utilization!.push([1_100_000, 100], [1_200_000, 0]);
    buffers.power!.push([1_100_000, 300_000], [1_200_000, 100_000]);
    sampling.poll(nvml);
    const reading = sampling.apply(gpuSample({ gpuUtilizationPercent: 87, memoryUtilizationPercent: 41, powerUsageMilliwatts: 512_340 }));
    expect(reading.gpuUtilizationPercent).toBe(50);
    expect(reading.powerUsageMilliwatts).toBe(200_000);
    expect(reading.memoryUtilizationPercent).toBe(41); // no memory buffer: the instant stays
    expect(reading.utilizationSamples).toBe(2);
    expect(reading.busyMilliseconds).toBe(100);
  });

  test("an interval without new samples keeps the point reading, marked as such", () => {
    const nvml = standIn({ gpu_utilization: [[1_000_000, 0]] });
    const sampling = new DriverSampling();
    sampling.attach(nvml, 0, gpuSample().uuid);
    sampling.poll(nvml);
    const reading = sampling.apply(gpuSample({ gpuUtilizationPercent: 87 }));
    expect([reading.gpuUtilizationPercent, reading.utilizationSamples, reading.busyMilliseconds]).toEqual([87, 0, null]);
  });

  test("a GPU or driver without buffers needs no polling; one with them sets the pace", () => {
    const without = new DriverSampling();
    without.attach(standIn({}), 0, "GPU-a");
    expect(without.pollPeriodMs()).toBeNull();
    const withBuffers = new DriverSampling();
    withBuffers.attach(standIn({ gpu_utilization: [[100_000, 1], [200_000, 1]] }), 0, "GPU-a");
    expect(withBuffers.pollPeriodMs()).toBe(8_000); // 100 samples of 0.1 s: read every 8 s
  });
});
