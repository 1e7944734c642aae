// Builds standalone executables with `bun build --compile`.
//   bun packaging/build.ts            -> dist/gpu_monitor for this machine
//   bun packaging/build.ts --target bun-linux-arm64 --outfile dist/x
//   bun packaging/build.ts --all      -> every release binary, the .deb/.rpm, SHA256SUMS
// The binary never reads .env or bunfig.toml from its working directory, and
// carries its version string.

import { mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { buildDeb, buildRpm, type PackageArch } from "./linuxPackages.ts";

export { buildDeb, buildRpm, debVersion, hostPackageArch, rpmVersionRelease } from "./linuxPackages.ts";

const root = resolve(import.meta.dir, "..");

export function versionString(): string {
  const git = Bun.spawnSync(["git", "rev-parse", "--short=10", "HEAD"], { cwd: root, stderr: "ignore" });
  const commit = git.exitCode === 0 ? git.stdout.toString().trim() : "";
  return commit ? `${packageJson.version}+${commit}` : packageJson.version;
}

export function compile(options: { target?: string; outfile: string; version: string }): void {
  mkdirSync(dirname(options.outfile), { recursive: true });
  const args = [
    process.execPath,
    "build",
    join(root, "src/main.ts"),
    // Worker entry points are bundled beside main (see src/workers.ts).
    join(root, "src/schedule/samplerWorker.ts"),
    "--compile",
    "--bytecode",
    "--format=esm",
    "--minify-syntax",
    "--minify-whitespace",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    `--define=GPU_MONITOR_VERSION=${JSON.stringify(options.version)}`,
    ...(options.target ? [`--target=${options.target}`] : []),
    `--outfile=${options.outfile}`,
  ];
  const result = Bun.spawnSync(args, { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    throw new Error(`bun build failed for ${options.target ?? "host"}:\n${result.stderr}${result.stdout}`);
  }
}

/** Every release binary: `bun build --compile` target -> file name under dist/. */
export const RELEASE_TARGETS: ReadonlyArray<readonly [target: string, file: string]> = [
  ["bun-linux-x64", "gpu_monitor-linux-x64"],
  ["bun-linux-x64-baseline", "gpu_monitor-linux-x64-baseline"],
  ["bun-linux-x64-musl", "gpu_monitor-linux-x64-musl"],
  ["bun-linux-arm64", "gpu_monitor-linux-arm64"],
  ["bun-linux-arm64-musl", "gpu_monitor-linux-arm64-musl"],
  ["bun-darwin-x64", "gpu_monitor-darwin-x64"],
  ["bun-darwin-arm64", "gpu_monitor-darwin-arm64"],
  ["bun-windows-x64", "gpu_monitor-windows-x64.exe"],
];

/** The linux glibc binaries the .deb and .rpm are made from. */
export const PACKAGED_BINARIES: ReadonlyArray<readonly [arch: PackageArch, file: string]> = [
  ["x64", "gpu_monitor-linux-x64"],
  ["arm64", "gpu_monitor-linux-arm64"],
];

async function sha256Line(path: string): Promise<string> {
  const digest = new Bun.CryptoHasher("sha256").update(await Bun.file(path).arrayBuffer()).digest("hex");
  return `${digest}  ${basename(path)}`;
}

/**
 * Builds every release binary into `folder`, then the .deb and .rpm of each linux glibc
 * binary, and writes SHA256SUMS over all of them. Without rpmbuild the .rpm step alone
 * fails, after the rest is written.
 */
export async function buildAll(folder: string, version: string): Promise<string[]> {
  const lines: string[] = [];
  for (const [target, file] of RELEASE_TARGETS) {
    const outfile = join(folder, file);
    const started = performance.now();
    compile({ target, outfile, version });
    lines.push(await sha256Line(outfile));
    console.log(`built ${file} (${target}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const failures: string[] = [];
  for (const [builder, kind] of [[buildDeb, ".deb"], [buildRpm, ".rpm"]] as const) {
    for (const [arch, file] of PACKAGED_BINARIES) {
      const started = performance.now();
      try {
        const out = builder({ binary: join(folder, file), arch, version, folder });
        lines.push(await sha256Line(out));
        console.log(`built ${basename(out)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      } catch (error) {
        failures.push(`${kind} (${arch}): ${(error as Error).message}`);
      }
    }
  }
  await Bun.write(join(folder, "SHA256SUMS"), `${lines.join("\n")}\n`);
  if (failures.length > 0) throw new Error(`packages not built:\n${failures.join("\n")}`);
  return lines;
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv.includes("--all")) {
    try {
      await buildAll(resolve(root, "dist"), versionString());
    } catch (error) {
      console.error(`build:all: ${(error as Error).message}`);
      process.exit(1);
    }
    process.exit(0);
  }
  const option = (name: string) => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const outfile = resolve(root, option("--outfile") ?? "dist/gpu_monitor");
  const target = option("--target");
  const version = versionString();
  const started = performance.now();
  compile({ outfile, version, ...(target ? { target } : {}) });
  console.log(`built ${outfile} (${version}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
