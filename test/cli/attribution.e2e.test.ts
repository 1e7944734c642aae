// Who used each GPU, end to end: the compiled agent on the fake NVML, 1 s samples
// and 10 s windows, with real processes of two users (their /proc entries give the
// user and start time) coming and going on two GPUs at set seconds, a pid outside
// this pid namespace, and a GPU whose process list NVML refuses. Checked through
// -sc, export --level hourly, usage, the database file and the upload bodies.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePasswd } from "../../src/collect/processOwners.ts";
import { compiledBinary, runBinary } from "../helpers/binary.ts";
import { fakeNvmlLibrary, writeScenario } from "../helpers/fakeNvml.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const WINDOW = 10;
const OUTSIDE_PID = 4_000_001; // above any pid_max: never in this pid namespace

interface Agent {
  dir: string;
  db: string;
  cli: (...args: string[]) => { exitCode: number; stdout: string; stderr: string };
  process: ReturnType<typeof Bun.spawn>;
}

const children: Array<ReturnType<typeof Bun.spawn>> = [];
const agents: Agent[] = [];
let server: TestServer;
let serverOff: TestServer;
/** The window the processes run in, and who they are. */
let T = 0;
let alice: { pid: number; user: string; name: string };
let bob: { pid: number; user: string; name: string };

const users = parsePasswd(readFileSync("/etc/passwd", "utf8"));
const userName = (uid: number) => users.get(uid) ?? String(uid);

/** A real process with a name of its own (a copy of sleep), as another user when we are root. */
function job(name: string, asNobody: boolean): { pid: number; user: string; name: string } {
  const dir = mkdtempSync(join(tmpdir(), "gpu-monitor-job-"));
  const program = join(dir, name);
  copyFileSync("/bin/sleep", program);
  Bun.spawnSync(["chmod", "755", dir, program]);
  const child = Bun.spawn(asNobody ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", program, "120"] : [program, "120"]);
  children.push(child);
  return { pid: child.pid, user: userName(asNobody ? 65534 : process.getuid!()), name };
}

function start(name: string, scenario: string[], config: Record<string, unknown>, url: string): Agent {
  const dir = mkdtempSync(join(tmpdir(), `gpu-monitor-attr-${name}-`));
  const file = join(dir, "config.json");
  writeFileSync(
    file,
    JSON.stringify({
      collection: { interval_seconds: 1, aggregation_interval_seconds: WINDOW, ...(config.collection as object) },
      database: { file: "gpu_metrics.db" },
      server: { url, contract_number: "C-17", retry_initial_seconds: 1, retry_max_seconds: 2, timeout_seconds: 5, ...(config.server as object) },
    }),
  );
  const env = { GPU_MONITOR_NVML_LIBRARY: fakeNvmlLibrary("current"), FAKE_NVML_SCENARIO: writeScenario(`${scenario.join("\n")}\n`) };
  const child = Bun.spawn([compiledBinary(), "run", "-c", file], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "ignore", stderr: "pipe" });
  const agent = { dir, db: join(dir, "gpu_metrics.db"), process: child, cli: (...args: string[]) => runBinary([...args, "-c", file], env, dir) };
  agents.push(agent);
  return agent;
}

let on: Agent;
let hashed: Agent;
let quiet: Agent;

beforeAll(async () => {
  compiledBinary();
  const root = process.getuid?.() === 0;
  alice = job("alice-train-job", false);
  // Not root: a process of another user that exists anyway (init, root's).
  bob = root ? job("bob-infer-job", true) : { pid: 1, user: userName(0), name: readFileSync("/proc/1/comm", "utf8").trim() };
  Bun.sleepSync(200); // setpriv has exec'd the job
  // A window that starts a few seconds from now, once the agents are up.
  T = Math.ceil((Date.now() / 1000 + 4) / WINDOW) * WINDOW;
  const scenario = [
    // GPU 0: alice's job for 7 s, bob's for the last 7 s; GPU 1: bob's all 10 s and a pid from another namespace for 4 s.
    `gpu0.processes.compute = ${alice.pid}:1073741824@${T}-${T + 7}, ${bob.pid}:2147483648@${T + 3}-${T + WINDOW}`,
    `gpu0.processes.utilization = ${alice.pid}:50:10:0:0, ${bob.pid}:25:5:0:0`,
    `gpu1.processes.compute = ${bob.pid}:536870912@${T}-${T + WINDOW}, ${OUTSIDE_PID}:1048576@${T}-${T + 4}`,
  ];
  server = startServer();
  serverOff = startServer();
  on = start("on", scenario, { server: { send_processes: true } }, server.url);
  hashed = start("hashed", scenario, { collection: { processes: "hashed" }, server: { send_processes: true } }, server.url);
  // The default: processes kept, not sent; and a third GPU whose list NVML refuses.
  quiet = start("quiet", [...scenario, "gpu2.processes.compute = 777:1", "gpu2.processes = !NO_PERMISSION"], {}, serverOff.url);
  // The window closes at T + 10; the agent aggregates and ships on the next tick.
  await Bun.sleep((T + WINDOW + 3) * 1000 - Date.now());
}, 40_000);

afterAll(() => {
  for (const agent of agents) agent.process.kill("SIGKILL");
  for (const child of children) child.kill("SIGKILL");
  server?.stop();
  serverOff?.stop();
});

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

function windowRecord(agent: Agent, how: "sc" | "export"): any[] {
  const args = how === "sc" ? ["-sc", iso(T), "-f", "json"] : ["export", "--level", "hourly", "--from", iso(T), "--to", iso(T + 1)];
  const result = agent.cli(...args);
  expect(result.exitCode).toBe(0);
  const groups = JSON.parse(result.stdout);
  expect(groups).toHaveLength(1);
  expect(Date.parse(groups[0].timestamp)).toBe(T * 1000);
  return groups[0].gpus;
}

describe("processes of two users on two GPUs, in the windows", () => {
  for (const how of ["sc", "export"] as const) {
    test(`${how === "sc" ? "-sc WINDOW" : "export --level hourly"}: each process with its user, seconds, SM seconds and peak memory; each user's roll-up`, () => {
      const [gpu0, gpu1] = windowRecord(on, how);
      expect(gpu0.processes.map((p: any) => [p.pid, p.name, p.user, p.gpu_seconds, p.sm_seconds, p.memory_max, p.first_seen, p.last_seen])).toEqual([
        [alice.pid, alice.name, alice.user, 7, 3.5, 1073741824, iso(T), iso(T + 6)],
        [bob.pid, bob.name, bob.user, 7, 1.75, 2147483648, iso(T + 3), iso(T + 9)],
      ]);
      expect(gpu0.processes[0].started_at).not.toBeNull();
      const byUser = (records: any[]) => Object.fromEntries(records.map((u) => [u.user, u.gpu_seconds]));
      if (alice.user !== bob.user) expect(byUser(gpu0.users)).toEqual({ [alice.user]: 7, [bob.user]: 7 });
      // GPU 1: bob's 10 s, and the pid from another namespace, kept with its reason.
      expect(gpu1.processes.map((p: any) => [p.pid, p.user, p.gpu_seconds, p.note])).toEqual([
        [bob.pid, bob.user, 10, null],
        [OUTSIDE_PID, null, 4, "not in the agent's pid namespace"],
      ]);
      expect(gpu1.users).toEqual([
        { user: bob.user, gpu_seconds: 10, sm_seconds: 0, memory_max: 536870912 },
        { user: null, gpu_seconds: 4, sm_seconds: 0, memory_max: 1048576 },
      ]);
      expect(gpu0.field_errors).toBeNull();
    });
  }

  test("a refused list: processes null and the reason, in the window's JSON", () => {
    const gpus = windowRecord(quiet, "export");
    expect(gpus[2].processes).toBeNull();
    expect(gpus[2].users).toBeNull();
    expect(gpus[2].field_errors).toEqual({ processes: "NVML_ERROR_NO_PERMISSION" });
    expect(gpus[0].processes).toHaveLength(2);
  });
});

describe("gpu_monitor usage", () => {
  test("--by user: each user's GPU time to the second, over both GPUs; the process outside the namespace as unknown", () => {
    const run = on.cli("usage", "--from", iso(T), "--to", iso(T + WINDOW), "--by", "user", "-f", "json");
    expect(run.exitCode).toBe(0);
    const document = JSON.parse(run.stdout);
    expect(document.rows.map((row: any) => [row.user, row.gpu_seconds])).toEqual([
      [bob.user, 17],
      [alice.user, 7],
      ["(unknown)", 4],
    ]);
    // alice's 50 % and bob's 25 % SM on GPU 0 split its energy 2 : 1 (bob's GPU 1 energy is his alone).
    expect(document.rows[1]).toMatchObject({ busy_seconds: 3.5, energy_basis: "sm_share" });
    const csv = on.cli("usage", "--from", iso(T), "--to", iso(T + WINDOW), "--by", "user", "-f", "csv");
    expect(csv.stdout.split("\n")[2]).toStartWith(`${alice.user},7,`);
  });

  test("--by process and --by container; hashed users are billed under their hash", () => {
    const byProcess = JSON.parse(on.cli("usage", "--from", iso(T), "--to", iso(T + WINDOW), "--by", "process", "-f", "json").stdout);
    expect(byProcess.rows.map((row: any) => [row.pid, row.name, row.user, row.gpu_seconds])).toEqual([
      [bob.pid, bob.name, bob.user, 17],
      [alice.pid, alice.name, alice.user, 7],
      [OUTSIDE_PID, expect.any(String), null, 4],
    ]);
    const table = on.cli("usage", "--from", iso(T), "--to", iso(T + WINDOW), "--by", "container");
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toMatch(/^\(none\)\s+/m);
    const hashedUsers = JSON.parse(hashed.cli("usage", "--from", iso(T), "--to", iso(T + WINDOW), "--by", "user", "-f", "json").stdout);
    expect(hashedUsers.rows.map((row: any) => row.gpu_seconds)).toEqual([17, 7, 4]);
    expect(hashedUsers.rows[0].user).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("privacy and the upload", () => {
  const secrets = () => [alice.name, bob.name, ...(alice.user === "root" ? [] : [alice.user]), ...(bob.user === "root" ? [] : [bob.user])];

  test("hashed: no name or user reaches the database file or the upload; the same values hash the same", () => {
    const [gpu0] = windowRecord(hashed, "export");
    for (const process of gpu0.processes) {
      expect(process.name).toMatch(/^[0-9a-f]{16}$/);
      expect(process.user).toMatch(/^[0-9a-f]{16}$/);
      expect(process.uid).toBeNull();
    }
    expect(gpu0.processes.map((p: any) => p.gpu_seconds)).toEqual([7, 7]);
    const [, gpu1] = windowRecord(hashed, "export");
    expect(gpu1.processes[0].user).toBe(gpu0.processes[1].user); // bob on both GPUs: one hash
    const files = [hashed.db, `${hashed.db}-wal`].filter(existsSync).map((file) => readFileSync(file));
    const uploads = server.received.filter((upload) => JSON.stringify(upload.body).includes(gpu0.processes[0].name));
    expect(uploads.length).toBeGreaterThanOrEqual(1);
    const blobs = [...files, ...uploads.map((upload) => Buffer.from(JSON.stringify(upload.body)))];
    for (const secret of secrets()) for (const blob of blobs) expect(blob.includes(Buffer.from(secret))).toBe(false);
    // The "on" agent's database does hold them: the scan can find what it looks for.
    expect(readFileSync(on.db).includes(Buffer.from(alice.name)) || readFileSync(`${on.db}-wal`).includes(Buffer.from(alice.name))).toBe(true);
  });

  test("server.send_processes: the window's processes and users are in the body; by default they are not", () => {
    const body = server.received.map((upload) => upload.body).find((b) => b.aggregation_time === iso(T) && JSON.stringify(b).includes(alice.name));
    expect(body).toBeDefined();
    expect(body.gpus[0].processes.map((p: any) => [p.pid, p.user, p.gpu_seconds])).toEqual([
      [alice.pid, alice.user, 7],
      [bob.pid, bob.user, 7],
    ]);
    expect(body.gpus[1].users.map((u: any) => u.gpu_seconds)).toEqual([10, 4]);
    const quietBodies = serverOff.received.map((upload) => upload.body);
    expect(quietBodies.some((b) => b.aggregation_time === iso(T))).toBe(true);
    for (const b of quietBodies) {
      for (const gpu of b.gpus) expect(Object.keys(gpu)).not.toContain("processes");
      expect(JSON.stringify(b)).not.toContain(alice.name);
    }
  });
});
