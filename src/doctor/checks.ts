// `gpu_monitor doctor`: every thing the agent needs, checked one by one, each
// with what to do when it fails.

import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, statfsSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { ProcessNameCache } from "../collect/processNames.ts";
import { NOT_IN_NAMESPACE, ProcessOwners } from "../collect/processOwners.ts";
import { gpuRecord } from "../collect/snapshot.ts";
import { takeSample, type GpuSample } from "../collect/sample.ts";
import { defaultSources, loadConfig, underSystemd, type LoadedConfig } from "../config/load.ts";
import type { ProcessMode } from "../config/schema.ts";
import { openNvml, type Nvml } from "../nvml/index.ts";
import { databaseBytes, formatSize } from "../query/databaseSize.ts";
import { plainHttpWarning, probeServer, uploadTarget } from "../ship/http.ts";
import { redactUrlCredentials } from "../util/url.ts";
import { GPM_METRIC_NAMES, MIG_IDENTITY_NAMES } from "../metrics/catalog.ts";
import { quickCheck } from "../store/database.ts";
import { runningAgentPid } from "../store/lock.ts";

export type CheckStatus = "pass" | "fail" | "warn";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

const pass = (name: string, detail: string): Check => ({ name, status: "pass", detail });
const fail = (name: string, detail: string): Check => ({ name, status: "fail", detail });
const warn = (name: string, detail: string): Check => ({ name, status: "warn", detail });

export async function runChecks(options: { config?: string | undefined; nvmlLibrary?: string | undefined }): Promise<Check[]> {
  const checks: Check[] = [];
  let loaded: LoadedConfig | null = null;
  try {
    loaded = loadConfig(defaultSources(options.config));
    checks.push(pass("config", loaded.file ? `${loaded.file} is valid` : "no config file: offline defaults"));
    for (const warning of loaded.warnings) checks.push(warn("config", warning));
    const insecure = loaded.config.server.url ? plainHttpWarning(loaded.config.server.url) : null;
    if (insecure) checks.push(warn("config", loaded.config.server.token ? insecure.replace("the token travel", "the token (server.token) travel") : insecure));
  } catch (error) {
    checks.push(fail("config", `${(error as Error).message} (fix the file; gpu_monitor exits 2 on it)`));
  }
  const nvml = nvmlChecks(options.nvmlLibrary ?? loaded?.config.nvml.library, loaded?.config.collection.processes ?? "on");
  checks.push(...nvml.checks);
  if (loaded) {
    checks.push(databaseCheck(loaded.config.database.file));
    checks.push(diskSpaceCheck(loaded.config.database.file, freeBytesAt(loaded.config.database.file), loaded.config.collection.interval_seconds, nvml.gpuCount));
    checks.push(agentLine(loaded.config.database.file));
    checks.push(logCheck(loaded.config.logging.file));
    checks.push(await serverCheck(loaded));
  }
  checks.push(serviceCheck());
  return checks;
}

function nvmlChecks(libraryPath: string | undefined, processMode: ProcessMode): { checks: Check[]; gpuCount: number | null } {
  let nvml: Nvml;
  try {
    nvml = openNvml({ libraryPath });
  } catch (error) {
    return { checks: [fail("nvml", nvmlLoadFailure((error as Error).message, runsOnMusl(glibcRuntime(), muslLoaders())))], gpuCount: null };
  }
  try {
    const host = nvml.host();
    const checks = [
      pass("nvml", `${nvml.libraryPath}: driver ${host.driverVersion ?? "?"}, NVML ${host.nvmlVersion ?? "?"}, CUDA ${host.cudaDriverVersion ?? "?"}`),
    ];
    const owners = processMode !== "off" && process.platform === "linux" ? new ProcessOwners() : null;
    const sample = takeSample(nvml, new ProcessNameCache(() => null, () => null), undefined, owners);
    if (sample.gpuCount === 0) checks.push(fail("gpus", "NVML reports no GPU: check that the driver sees them (nvidia-smi -L)"));
    const perGpu: Array<{ index: number; check: Check }> = [];
    const driverApi = { mig: nvml.boundSymbols.migMode != null, gpmPerGpuInstance: nvml.boundSymbols.gpmMigSampleGet != null };
    for (const gpu of sample.gpus) {
      if (gpu.parentUuid !== null) continue; // a MIG device: told on its GPU's line
      const record = gpuRecord(gpu);
      // MIG and GPM fields are told apart, below: on a GPU they are not missing metrics.
      const counted = Object.entries(record).filter(([key]) => key !== "field_errors" && !MIG_AND_GPM_FIELDS.has(key));
      const unsupported = counted.filter(([, value]) => value === null).map(([key]) => key);
      const total = counted.length;
      const errors = Object.entries(gpu.fieldErrors).map(([field, code]) => `${field}: ${code}`);
      const usage = usageMeasure(gpu, sample.gpus.filter((device) => device.parentUuid === gpu.uuid), nvml.gpmSupported?.(gpu.index) ?? null, driverApi);
      perGpu.push({
        index: gpu.index,
        check: (errors.length || !usage.measurable ? warn : pass)(
          `gpu ${gpu.index}`,
          `${gpu.name ?? "?"} (${gpu.uuid}): ${total - unsupported.length} of ${total} metrics` +
            (unsupported.length ? `; not available: ${unsupported.join(", ")}` : "") +
            `; ${usage.text}` +
            (errors.length ? `; errors: ${errors.join(", ")}` : ""),
        ),
      });
    }
    for (const failure of sample.failures) {
      perGpu.push({
        index: failure.index,
        check: fail(`gpu ${failure.index}`, `${failure.message}: check dmesg for Xid errors; the GPU may need a reset or a reboot`),
      });
    }
    const attribution = processMode === "off" ? [] : [processesCheck(sample.gpus, processMode)];
    return { checks: [...checks, ...perGpu.sort((a, b) => a.index - b.index).map((entry) => entry.check), ...attribution], gpuCount: sample.gpuCount };
  } finally {
    nvml.close();
  }
}

const MIG_AND_GPM_FIELDS = new Set([...MIG_IDENTITY_NAMES, "mig_mode", "mig_mode_pending", ...GPM_METRIC_NAMES]);

/**
 * Whether MIG is on and how the GPU's usage is measured: NVML's utilization, GPM
 * (per GPU instance with MIG on), or not at all, which leaves a window without
 * usage (a warning: the windows a contract is billed on would show none).
 */
export function usageMeasure(
  gpu: { migMode: boolean | null; migModePending: boolean | null; gpuUtilizationPercent: number | null },
  migDevices: ReadonlyArray<{ migProfile: string | null }>,
  gpmSupported: boolean | null,
  /** What the driver's NVML has: the MIG functions (CUDA 11, R450), GPM per GPU instance (NVML 12.0, driver 525). */
  driverApi: { mig: boolean; gpmPerGpuInstance: boolean },
): { measurable: boolean; text: string } {
  const pending = gpu.migModePending !== null && gpu.migModePending !== gpu.migMode ? ` (${gpu.migModePending ? "on" : "off"} after the next GPU reset)` : "";
  const profiles = migDevices.map((device) => device.migProfile ?? "?").join(", ");
  const mig =
    gpu.migMode === null
      ? driverApi.mig
        ? "MIG not supported"
        : "this driver has no MIG API"
      : gpu.migMode
        ? `MIG on${pending}, ${migDevices.length} MIG device(s)${profiles ? ` (${profiles})` : ""}`
        : `MIG off${pending}`;
  const ways: string[] = [];
  if (gpu.gpuUtilizationPercent !== null) ways.push("utilization");
  if (gpmSupported && gpu.migMode && !driverApi.gpmPerGpuInstance) {
    // Driver 520: GPM on the GPU only; its MIG devices (where the usage is billed) get none.
    const why = "this driver has no per-GPU-instance GPM (nvmlGpmMigSampleGet), so their windows carry no usage; update to driver 525 or later";
    return { measurable: false, text: `${mig}; activity measured by GPM on the GPU as a whole, but cannot be measured on its MIG devices: ${why}` };
  }
  if (gpmSupported) ways.push(gpu.migMode ? "GPM per GPU instance" : "GPM");
  if (ways.length > 0) return { measurable: true, text: `${mig}; activity measured by ${ways.join(" and ")}` };
  const why = gpu.migMode ? "NVML gives no utilization in MIG mode and this GPU has no GPM (Hopper or later, driver 520+)" : "neither utilization nor GPM answers";
  return { measurable: false, text: `${mig}; activity cannot be measured: ${why}, so windows carry no usage` };
}

/**
 * Whether the agent can tell who uses each GPU: NVML may refuse the process list
 * (NO_PERMISSION, common in containers), and processes outside the agent's pid
 * namespace have no user or container.
 */
export function processesCheck(gpus: readonly GpuSample[], mode: ProcessMode): Check {
  const refusal = "NVML_ERROR_NO_PERMISSION";
  const refused = gpus.filter(
    (gpu) => gpu.processes === null && (gpu.fieldErrors.compute_processes === refusal || gpu.fieldErrors.graphics_processes === refusal || gpu.fieldErrors.mps_processes === refusal),
  );
  if (refused.length > 0) {
    return warn(
      "users",
      `NVML refuses the process list of GPU ${refused.map((gpu) => gpu.index).join(", ")} (NO_PERMISSION): usage by process, user and container is not recorded. ` +
        "Run the agent as root (the packaged service does); in a container, give it the host's pid namespace (docker --pid=host, Kubernetes hostPID: true) and NVIDIA_DRIVER_CAPABILITIES=compute,utility",
    );
  }
  const all = gpus.flatMap((gpu) => gpu.processes ?? []);
  const outside = all.filter((p) => p.owner?.note === NOT_IN_NAMESPACE);
  if (outside.length > 0) {
    return warn(
      "users",
      `${outside.length} of ${all.length} GPU process(es) (pid ${outside.slice(0, 5).map((p) => p.pid).join(", ")}${outside.length > 5 ? ", ..." : ""}) are not in the agent's pid namespace: kept by pid, without user or container. ` +
        "In a container, run the agent with the host's pid namespace (docker --pid=host, Kubernetes hostPID: true)",
    );
  }
  const listed = gpus.filter((gpu) => gpu.processes !== null).length;
  return pass("users", `process lists read on ${listed} of ${gpus.length} GPU(s), ${all.length} process(es) now${mode === "hashed" ? "; names, users and ids are stored hashed" : ""}`);
}

function databaseCheck(file: string): Check {
  if (!existsSync(file)) {
    const folder = existingAncestor(dirname(file));
    try {
      accessSync(folder, constants.W_OK);
      return pass("database", `${file} does not exist yet; the agent will create it (${folder} is writable)`);
    } catch {
      return fail("database", `${file} cannot be created: ${folder} is not writable by this user`);
    }
  }
  try {
    accessSync(file, constants.W_OK);
    accessSync(dirname(file), constants.W_OK); // the WAL and its index are created beside it
  } catch {
    return fail("database", `${file} is not writable by this user (the file or its folder)`);
  }
  try {
    const result = quickCheck(file);
    return result === "ok"
      ? pass("database", `${file}: writable, quick_check ok, ${formatSize(databaseBytes(file) ?? 0)}`)
      : fail("database", `${file}: quick_check says ${result}; move it aside and let the agent start a new one`);
  } catch (error) {
    return fail("database", (error as Error).message);
  }
}

/** Bytes a stored GPU-sample takes on disk (test/bench: 28.8 B once compacted into blocks). */
const BYTES_PER_GPU_SAMPLE = 29;
/** Rows wait uncompacted for a while, with their index; the WAL and the windows take some too. */
const OVERHEAD = 1.5;
/** Below this the disk is full for our purpose: a tick's transaction and its WAL frames may not fit. */
const FULL_BYTES = 1024 * 1024;

/** What a day of samples needs on disk, in bytes. */
export function dayOfSamplesBytes(intervalSeconds: number, gpuCount: number): number {
  return Math.ceil((86_400 / intervalSeconds) * gpuCount * BYTES_PER_GPU_SAMPLE * OVERHEAD);
}

/**
 * Free space where the database lives against a day of samples. `gpuCount` is
 * null when NVML could not say; one GPU is assumed then. Pure.
 */
export function diskSpaceCheck(file: string, freeBytes: number | null, intervalSeconds: number, gpuCount: number | null): Check {
  if (freeBytes === null) return warn("disk", `cannot tell the free space where ${file} lives`);
  const gpus = Math.max(1, gpuCount ?? 1);
  const day = dayOfSamplesBytes(intervalSeconds, gpus);
  const detail = `${formatSize(freeBytes)} free where ${file} lives; a day of samples needs about ${formatSize(day)} (${gpus} GPU(s)${gpuCount === null ? " assumed" : ""}, one every ${intervalSeconds} s)`;
  if (freeBytes < FULL_BYTES) return fail("disk", `${detail}: the disk is full, the agent cannot store samples; free some space`);
  if (freeBytes < day) return warn("disk", `${detail}: less than a day's worth; free some space or shorten retention.raw_days`);
  return pass("disk", detail);
}


function freeBytesAt(file: string): number | null {
  try {
    const stats = statfsSync(existingAncestor(dirname(file)));
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

/** NVIDIA builds libnvidia-ml for glibc: on musl (Alpine) it loads only through gcompat or a glibc. */
export function nvmlLoadFailure(message: string, musl: boolean): string {
  if (!musl) return message;
  return `${message}; this is a musl (Alpine) system and NVIDIA's libnvidia-ml is built for glibc: install gcompat (apk add gcompat) or a glibc, then run doctor again`;
}

/** musl: the process reports no glibc, and a musl loader (/lib/ld-musl-<arch>.so.1) is there. */
export function runsOnMusl(glibcVersion: string | undefined, loaders: string[]): boolean {
  return !glibcVersion && loaders.some((name) => /^ld-musl-.+\.so\.1$/.test(name));
}

function glibcRuntime(): string | undefined {
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return header?.glibcVersionRuntime;
  } catch {
    return undefined;
  }
}

function muslLoaders(): string[] {
  if (process.platform !== "linux") return [];
  try {
    return readdirSync("/lib").filter((name) => name.startsWith("ld-musl-"));
  } catch {
    return [];
  }
}

function logCheck(file: string): Check {
  if (!file && underSystemd(process.env)) return pass("log", "no log file: under systemd the journal keeps the log (set logging.file for a file too)");
  if (!file) return pass("log", "no log file (logging.file is empty): the console only");
  const existed = existsSync(file);
  try {
    closeSync(openSync(file, "a"));
    if (!existed) unlinkSync(file);
    return pass("log", `${file} is writable`);
  } catch (error) {
    return fail("log", `${file} is not writable: ${(error as Error).message}`);
  }
}

async function serverCheck(loaded: LoadedConfig): Promise<Check> {
  const { server } = loaded.config;
  if (!server.url) return warn("server", "no server.url: the agent runs offline and queues every window");
  const shown = redactUrlCredentials(server.url);
  // The agent's own transport (server.ca_file, the timeout, no redirects): doctor sees what the agent sees.
  const probe = await probeServer(uploadTarget(loaded.config));
  return probe.ok
    ? pass("server", `${shown}: reachable, answered HTTP ${probe.httpStatus} to GET in ${probe.latencyMs} ms`)
    : fail("server", `${shown}: ${probe.error} (check the URL, DNS, the firewall, the proxy and server.ca_file)`);
}

function serviceCheck(): Check {
  const agent = process.platform === "linux" ? "/etc/systemd/system/gpu-monitor.service" : null;
  if (!agent) return warn("service", `no service check on ${process.platform} yet`);
  return existsSync(agent) ? pass("service", `${agent} is installed`) : warn("service", `not installed as a systemd service (see packaging/systemd and the README)`);
}

function existingAncestor(folder: string): string {
  let current = folder;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

function agentLine(databaseFile: string): Check {
  const pid = runningAgentPid(databaseFile);
  return pid === null ? warn("agent", "not running") : pass("agent", `running (pid ${pid})`);
}
