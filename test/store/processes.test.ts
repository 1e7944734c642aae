import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { ProcessAttribution, saltedHash } from "../../src/aggregate/attribution.ts";
import type { NamedProcess } from "../../src/collect/sample.ts";
import type { ProcessOwner } from "../../src/collect/processOwners.ts";
import { gpuValues, sampleValues } from "../../src/metrics/catalog.ts";
import { Store } from "../../src/store/store.ts";
import { gpuSample, tempDatabase } from "../helpers/samples.ts";

const PERIOD = 3600;
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

function owner(user: string, uid: number, startTicks: number | null, extra: Partial<ProcessOwner> = {}): ProcessOwner {
  return { startTicks, startedAt: startTicks === null ? null : T0 - 100, uid, user, containerId: null, podUid: null, note: null, ...extra };
}

function proc(pid: number, name: string, processOwner: ProcessOwner | null, memory: number, sm: number | null): NamedProcess {
  return {
    kind: "compute",
    pid,
    usedMemoryBytes: memory,
    gpuInstanceId: null,
    computeInstanceId: null,
    name,
    owner: processOwner,
    smPercent: sm,
    memoryPercent: sm,
    encoderPercent: sm === null ? null : 0,
    decoderPercent: sm === null ? null : 0,
  };
}

function record(store: Store, attribution: ProcessAttribution, ts: number, perGpu: Array<NamedProcess[] | null>, interval = 60): void {
  const gpus = perGpu.map((processes, index) =>
    gpuSample({
      index,
      uuid: `GPU-${index}`,
      processes,
      fieldErrors: processes === null ? { compute_processes: "NVML_ERROR_NO_PERMISSION" } : {},
    }),
  );
  const ticks = attribution.tick(ts, interval, gpus);
  store.samples.writeTick(ts, gpus.map((gpu, i) => ({ identity: gpuValues(gpu), values: sampleValues(gpu), processes: ticks[i]! })));
}

describe("who used each GPU, per window", () => {
  test("processes and users are summed tick by tick: seconds, SM seconds, peak memory, first and last seen", () => {
    const store = Store.open(tempDatabase());
    const attribution = new ProcessAttribution("on", (v) => v);
    const alice = owner("alice", 1001, 500);
    const bob = owner("bob", 1002, 600, { containerId: "c".repeat(64), podUid: "0f6b3a52-8d2c-4e1f-9a7b-5c3d2e1f0a9b" });
    for (let i = 0; i < 10; i++) {
      const ts = T0 + i * 60;
      record(store, attribution, ts, [
        [proc(10, "train", alice, 1000 + i, 50), ...(i < 4 ? [proc(11, "eval", alice, 500, 10)] : [])],
        i >= 5 ? [proc(20, "infer", bob, 2000, null)] : [],
      ]);
    }
    // Nothing shows until the window closes: then its ticks become its rows.
    expect(store.processes.processesBetween(T0, T0 + PERIOD)).toEqual([]);
    store.processes.fold(T0, T0 + PERIOD);
    const processes = store.processes.processesBetween(T0, T0 + PERIOD);
    expect(processes.map((p) => [p.gpuId, p.pid, p.user, p.gpuSeconds, p.smSeconds, p.memoryMax, p.firstSeen - T0, p.lastSeen - T0])).toEqual([
      [1, 10, "alice", 600, 300, 1009, 0, 540],
      [1, 11, "alice", 240, 24, 500, 0, 180],
      [2, 20, "bob", 300, null, 2000, 300, 540],
    ]);
    expect(processes[2]).toMatchObject({ containerId: "c".repeat(64), podUid: "0f6b3a52-8d2c-4e1f-9a7b-5c3d2e1f0a9b", uid: 1002 });
    // A user's time is the time with at least one process there, not the sum over processes.
    const users = store.processes.usersBetween(T0, T0 + PERIOD);
    expect(users.map((u) => [u.gpuId, u.user, u.gpuSeconds, u.smSeconds, u.memoryMax])).toEqual([
      [1, "alice", 600, 324, 1500 + 3],
      [2, "bob", 300, null, 2000],
    ]);
    expect(store.processes.listsBetween(T0, T0 + PERIOD).map((l) => [l.gpuId, l.listedSeconds, l.refusedSeconds])).toEqual([
      [1, 600, 0],
      [2, 600, 0],
    ]);
    store.close();
  });

  test("a reused pid is a new process; a pid of unknown start is one process while it stays, a new one after a gap", () => {
    const store = Store.open(tempDatabase());
    const attribution = new ProcessAttribution("on", (v) => v);
    const outside = owner("x", 0, null, { uid: null, user: null, note: "not in the agent's pid namespace" } as Partial<ProcessOwner>);
    const ticks: Array<NamedProcess[]> = [
      [proc(7, "a", owner("alice", 1001, 100), 1, 0), proc(9, "fake", outside, 1, 0)],
      [proc(7, "a", owner("alice", 1001, 100), 1, 0), proc(9, "fake", outside, 1, 0)],
      [proc(7, "b", owner("bob", 1002, 900), 1, 0)],
      [proc(9, "fake", outside, 1, 0)],
    ];
    ticks.forEach((processes, i) => record(store, attribution, T0 + i * 60, [processes]));
    store.processes.fold(T0, T0 + PERIOD);
    const rows = store.processes.processesBetween(T0, T0 + PERIOD);
    expect(rows.map((p) => [p.pid, p.name, p.user, p.gpuSeconds, p.firstSeen - T0, p.note])).toEqual([
      [7, "a", "alice", 120, 0, null],
      [9, "fake", null, 120, 0, "not in the agent's pid namespace"],
      [7, "b", "bob", 60, 120, null],
      [9, "fake", null, 60, 180, "not in the agent's pid namespace"],
    ]);
    store.close();
  });

  test("a refused list is recorded as refused, with NVML's code", () => {
    const store = Store.open(tempDatabase());
    const attribution = new ProcessAttribution("on", (v) => v);
    record(store, attribution, T0, [null]);
    record(store, attribution, T0 + 60, [null]);
    store.processes.fold(T0, T0 + PERIOD);
    expect(store.processes.listsBetween(T0, T0 + PERIOD)).toEqual([
      { windowStart: T0, gpuId: 1, listedSeconds: 0, refusedSeconds: 120, refusedCode: "NVML_ERROR_NO_PERMISSION" },
    ]);
    expect(store.processes.processesBetween(T0, T0 + PERIOD)).toEqual([]);
    store.close();
  });

  test("hashed: names, users, container and pod ids never reach the file, and the salt is made once per database", () => {
    const file = tempDatabase();
    const store = Store.open(file);
    const salt = store.processes.salt();
    expect(salt).toMatch(/^[0-9a-f]{64}$/);
    expect(store.processes.salt()).toBe(salt);
    const hash = saltedHash(salt);
    const attribution = new ProcessAttribution("hashed", hash);
    const tenant = owner("tenant-secret-user", 4321, 77, { containerId: "d".repeat(64), podUid: "11111111-2222-3333-4444-555555555555" });
    for (let i = 0; i < 3; i++) record(store, attribution, T0 + i * 60, [[proc(5, "secret-model-trainer", tenant, 10, 20)]]);
    store.processes.fold(T0, T0 + PERIOD);
    const [row] = store.processes.processesBetween(T0, T0 + PERIOD);
    expect(row).toMatchObject({ name: hash("secret-model-trainer"), user: hash("tenant-secret-user"), uid: null, containerId: hash("d".repeat(64)), gpuSeconds: 180 });
    expect(row!.name).toMatch(/^[0-9a-f]{16}$/);
    store.close();
    const bytes = Buffer.concat([readFileSync(file), ...["-wal"].flatMap((suffix) => { try { return [readFileSync(file + suffix)]; } catch { return []; } })]);
    for (const secret of ["secret-model-trainer", "tenant-secret-user", "d".repeat(64), "11111111-2222-3333-4444-555555555555", "4321"]) {
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
    }
    expect(bytes.includes(Buffer.from(hash("tenant-secret-user")))).toBe(true);
  });

  test("a tick's processes are one row per GPU until the window folds them; folding again adds nothing", () => {
    const file = tempDatabase();
    const store = Store.open(file);
    const attribution = new ProcessAttribution("on", (v) => v);
    const many = Array.from({ length: 50 }, (_, i) => proc(100 + i, `job${i}`, owner(`u${i % 5}`, 2000 + (i % 5), 1000 + i), 1 << 20, 10));
    for (let i = 0; i < 3; i++) record(store, attribution, T0 + i * 60, [many, many.slice(0, 10)]);
    const ticks = () => new Database(file, { readonly: true }).query("SELECT count(*) AS n FROM process_ticks").get();
    expect(ticks()).toEqual({ n: 6 });
    store.processes.fold(T0, T0 + PERIOD);
    store.processes.fold(T0, T0 + PERIOD);
    expect(ticks()).toEqual({ n: 0 });
    const rows = store.processes.processesBetween(T0, T0 + PERIOD);
    expect(rows).toHaveLength(60);
    expect(rows.every((row) => row.gpuSeconds === 180 && row.smSeconds === 18)).toBe(true);
    expect(store.processes.usersBetween(T0, T0 + PERIOD, 1).map((u) => [u.user, u.gpuSeconds, u.memoryMax])).toEqual([
      ["u0", 180, 10 << 20],
      ["u1", 180, 10 << 20],
      ["u2", 180, 10 << 20],
      ["u3", 180, 10 << 20],
      ["u4", 180, 10 << 20],
    ]);
    store.close();
  });

  test("retention: a window's rows go with it, and processes no window names", () => {
    const file = tempDatabase();
    const store = Store.open(file);
    const attribution = new ProcessAttribution("on", (v) => v);
    record(store, attribution, T0, [[proc(1, "old", owner("alice", 1001, 1), 1, 1)]]);
    record(store, attribution, T0 + PERIOD, [[proc(2, "new", owner("alice", 1001, 2), 1, 1)]]);
    store.processes.fold(T0, T0 + PERIOD);
    store.processes.fold(T0 + PERIOD, T0 + 2 * PERIOD);
    expect(store.processes.prune(T0 + PERIOD)).toBe(3);
    expect(store.processes.processesBetween(0, T0 + 2 * PERIOD).map((p) => p.name)).toEqual(["new"]);
    // The identity itself is gone, not only its window rows (which processesBetween joins on).
    expect(new Database(file, { readonly: true }).query("SELECT name FROM processes").all()).toEqual([{ name: "new" }]);
    store.close();
  });

  test("retention during an open window keeps the identities its ticks name, and an id is never given to another process", () => {
    const file = tempDatabase();
    const store = Store.open(file);
    const attribution = new ProcessAttribution("on", (v) => v);
    record(store, attribution, T0, [[proc(5, "old", owner("alice", 1001, 1), 1, 50)]]);
    store.processes.fold(T0, T0 + PERIOD);
    const W = T0 + 10 * PERIOD;
    for (let i = 0; i < 3; i++) record(store, attribution, W + i * 60, [[proc(7, "newjob", owner("bob", 1002, 2), 1, 50)]]);
    expect(store.processes.prune(T0 + PERIOD)).toBeGreaterThan(0);
    for (let i = 3; i < 6; i++) {
      record(store, attribution, W + i * 60, [[proc(7, "newjob", owner("bob", 1002, 2), 1, 50), proc(8, "other", owner("carol", 1003, 3), 1, 50)]]);
    }
    store.processes.fold(W, W + PERIOD);
    const rows = store.processes.processesBetween(W, W + 1);
    expect(rows.map((r) => [r.pid, r.name, r.user, r.gpuSeconds])).toEqual([
      [7, "newjob", "bob", 360],
      [8, "other", "carol", 180],
    ]);
    // The pruned identity's id (the first) is not handed out again.
    const ids = new Database(file, { readonly: true }).query("SELECT id FROM processes ORDER BY id").values().flat();
    expect(ids).toHaveLength(2);
    expect(ids).not.toContain(1);
    store.close();
  });

  test("switching a database from on to hashed: the windows after the switch carry only hashes", () => {
    const file = tempDatabase();
    const store = Store.open(file);
    const alice = owner("alice-plain", 1001, 500, { containerId: "e".repeat(64) });
    const plain = new ProcessAttribution("on", (v) => v);
    for (let i = 0; i < 2; i++) record(store, plain, T0 + i * 60, [[proc(10, "plain-trainer", alice, 1, 50)]]);
    store.processes.fold(T0, T0 + PERIOD);
    const hash = saltedHash(store.processes.salt());
    const hashed = new ProcessAttribution("hashed", hash);
    // The same process (same pid and start) goes on running after the restart in hashed mode.
    for (let i = 0; i < 2; i++) record(store, hashed, T0 + PERIOD + i * 60, [[proc(10, "plain-trainer", alice, 1, 50)]]);
    store.processes.fold(T0 + PERIOD, T0 + 2 * PERIOD);
    const [row] = store.processes.processesBetween(T0 + PERIOD, T0 + 2 * PERIOD);
    expect(row).toMatchObject({ pid: 10, name: hash("plain-trainer"), user: hash("alice-plain"), containerId: hash("e".repeat(64)), uid: null, gpuSeconds: 120 });
    const window = JSON.stringify([...store.processes.window(T0 + PERIOD).processes.values(), ...store.processes.window(T0 + PERIOD).users.values()]);
    for (const secret of ["plain-trainer", "alice-plain", "e".repeat(64), "1001"]) expect(window.includes(secret)).toBe(false);
    expect(store.processes.usageBy("user", T0 + PERIOD, T0 + 2 * PERIOD).map((u) => u.key)).toEqual([hash("alice-plain")]);
    store.close();
  });

  test("a GPU in MIG mode lists its MIG devices' processes too: they count on the MIG devices only, never twice", () => {
    const store = Store.open(tempDatabase());
    const attribution = new ProcessAttribution("on", (v) => v);
    const train = proc(4242, "train", owner("alice", 1001, 1), 100, null);
    const infer = proc(5151, "infer", owner("alice", 1001, 2), 50, null);
    for (let i = 0; i < 3; i++) {
      const gpus = [
        gpuSample({ index: 0, uuid: "GPU-0", migMode: true, processes: [train, infer], fieldErrors: {} }),
        gpuSample({ index: 0, uuid: "MIG-a", parentUuid: "GPU-0", processes: [train], fieldErrors: {} }),
        gpuSample({ index: 0, uuid: "MIG-b", parentUuid: "GPU-0", processes: [infer], fieldErrors: {} }),
      ];
      const ticks = attribution.tick(T0 + i * 60, 60, gpus);
      store.samples.writeTick(T0 + i * 60, gpus.map((gpu, g) => ({ identity: gpuValues(gpu), values: sampleValues(gpu), processes: ticks[g]! })));
    }
    store.processes.fold(T0, T0 + PERIOD);
    const rows = store.processes.processesBetween(T0, T0 + PERIOD);
    expect(rows.map((r) => [r.pid, r.gpuSeconds])).toEqual([
      [4242, 180],
      [5151, 180],
    ]);
    // alice: 180 s on each MIG device, 360 s in all (the sum over the slices), not 720.
    expect(store.processes.usageBy("user", T0, T0 + PERIOD).map((u) => [u.key, u.gpuSeconds])).toEqual([["alice", 360]]);
    store.close();
  });

  test("start times restart at each boot: the same pid and start after a reboot is a new process", () => {
    const store = Store.open(tempDatabase());
    const job = proc(10, "train", owner("alice", 1001, 500), 1, 50);
    record(store, new ProcessAttribution("on", (v) => v, "boot-a"), T0, [[job]]);
    record(store, new ProcessAttribution("on", (v) => v, "boot-b"), T0 + 60, [[job]]);
    store.processes.fold(T0, T0 + PERIOD);
    expect(store.processes.processesBetween(T0, T0 + PERIOD).map((p) => [p.pid, p.gpuSeconds, p.firstSeen - T0])).toEqual([
      [10, 60, 0],
      [10, 60, 60],
    ]);
    store.close();
  });
});
