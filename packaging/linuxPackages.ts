// The .deb and .rpm of the agent, from a compiled linux glibc binary: /usr/bin/gpu_monitor,
// the config as a conffile (%config(noreplace)), /var/lib/gpu_monitor, the systemd unit,
// and maintainer scripts (packaging/linux/) that create the gpu-monitor user and
// enable, start, restart and stop the service where systemd runs.

import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import packageJson from "../package.json" with { type: "json" };

const root = resolve(import.meta.dir, "..");
const LINUX = join(root, "packaging/linux");
const UNIT = join(root, "packaging/systemd/gpu-monitor.service");
export const PACKAGED_BINARY = "/usr/bin/gpu_monitor";

export type PackageArch = "x64" | "arm64";
const DEB_ARCH: Record<PackageArch, string> = { x64: "amd64", arm64: "arm64" };
const RPM_ARCH: Record<PackageArch, string> = { x64: "x86_64", arm64: "aarch64" };

/** The host's architecture in our naming, or null where no package is built for it. */
export function hostPackageArch(): PackageArch | null {
  return process.arch === "x64" ? "x64" : process.arch === "arm64" ? "arm64" : null;
}

/**
 * Debian version from ours (`0.1.0+<commit>` is valid as it is). A '-' would start a
 * Debian revision, so it becomes '~' (sorts before the release, as a pre-release should).
 */
export function debVersion(version: string): string {
  return version.replaceAll("-", "~");
}

/** rpm's Version (no '-' allowed) and Release: the build suffix after '+' goes to Release. */
export function rpmVersionRelease(version: string): { version: string; release: string } {
  const [upstream, build] = version.split("+", 2) as [string, string | undefined];
  return { version: upstream.replaceAll("-", "~"), release: build ? `1.${build.replace(/[^A-Za-z0-9.]/g, ".")}` : "1" };
}

/**
 * The shipped unit with ExecStart pointing at the packaged binary: the unit in the
 * repository names /usr/local/bin (where install.sh puts it); a package owns /usr/bin.
 */
export function packagedUnit(unit = readFileSync(UNIT, "utf8")): string {
  const rewritten = unit.replace(/^(ExecStart=)\/usr\/local\/bin\/gpu_monitor(?=\s|$)/m, `$1${PACKAGED_BINARY}`);
  if (!new RegExp(`^ExecStart=${PACKAGED_BINARY}\\s`, "m").test(rewritten)) {
    throw new Error(`${UNIT}: its ExecStart= names neither /usr/local/bin/gpu_monitor nor ${PACKAGED_BINARY}`);
  }
  return rewritten;
}

function run(args: string[], what: string): void {
  const result = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${what} failed (${args[0]} exit ${result.exitCode}):\n${result.stderr}${result.stdout}`);
}

export interface PackageOptions {
  /** A compiled linux glibc binary for `arch`. */
  binary: string;
  arch: PackageArch;
  /** Our version string (`0.1.0+<commit>`). */
  version: string;
  folder: string;
}

/** Builds `<folder>/gpu_monitor_<version>_<arch>.deb` with dpkg-deb; returns its path. */
export function buildDeb(options: PackageOptions): string {
  if (!Bun.which("dpkg-deb")) throw new Error("dpkg-deb is not installed (Debian/Ubuntu: it is in the dpkg package)");
  const version = debVersion(options.version);
  const arch = DEB_ARCH[options.arch];
  const stage = mkdtempSync(join(tmpdir(), "gpu-monitor-deb-"));
  try {
    const place = (path: string, mode: number, content: string | { copyOf: string }) => {
      const target = join(stage, path);
      mkdirSync(join(target, ".."), { recursive: true });
      if (typeof content === "string") writeFileSync(target, content);
      else copyFileSync(content.copyOf, target);
      chmodSync(target, mode);
    };
    place("usr/bin/gpu_monitor", 0o755, { copyOf: options.binary });
    place("etc/gpu_monitor/config.json", 0o640, readFileSync(join(LINUX, "config.json"), "utf8"));
    place("lib/systemd/system/gpu-monitor.service", 0o644, packagedUnit());
    mkdirSync(join(stage, "var/lib/gpu_monitor"), { recursive: true });
    // Folders as dpkg will create them, whatever this process's umask: 0755, the data 0750.
    for (const folder of new Bun.Glob("**/").scanSync({ cwd: stage, onlyFiles: false })) {
      if (statSync(join(stage, folder)).isDirectory()) chmodSync(join(stage, folder), 0o755);
    }
    chmodSync(stage, 0o755);
    chmodSync(join(stage, "var/lib/gpu_monitor"), 0o750);
    const installedKiB = Math.ceil(Bun.file(options.binary).size / 1024) + 8;
    place(
      "DEBIAN/control",
      0o644,
      [
        `Package: gpu-monitor`,
        `Version: ${version}`,
        `Architecture: ${arch}`,
        `Maintainer: Targoman <gpu_monitor@targoman.com>`,
        `Installed-Size: ${installedKiB}`,
        `Depends: passwd`,
        `Section: admin`,
        `Priority: optional`,
        `Homepage: https://github.com/targoman/gpu_monitor`,
        `Description: ${packageJson.description}`,
        ` One binary, run as the gpu-monitor systemd service; config in /etc/gpu_monitor.`,
        ``,
      ].join("\n"),
    );
    place("DEBIAN/conffiles", 0o644, "/etc/gpu_monitor/config.json\n");
    for (const script of ["postinst", "prerm", "postrm"]) place(`DEBIAN/${script}`, 0o755, { copyOf: join(LINUX, "deb", script) });
    mkdirSync(options.folder, { recursive: true });
    const out = join(options.folder, `gpu_monitor_${version}_${arch}.deb`);
    // gzip: every dpkg reads it, and it packs the 100 MB binary in seconds where xz takes a minute.
    run(["dpkg-deb", "--build", "--root-owner-group", "-Zgzip", "-z6", stage, out], "dpkg-deb --build");
    return out;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Builds `<folder>/gpu_monitor-<version>-<release>.<arch>.rpm` with rpmbuild; returns its path. */
export function buildRpm(options: PackageOptions): string {
  if (!Bun.which("rpmbuild")) {
    throw new Error("rpmbuild is not installed, so no .rpm was built (Debian/Ubuntu: apt-get install rpm)");
  }
  const { version, release } = rpmVersionRelease(options.version);
  const arch = RPM_ARCH[options.arch];
  const top = mkdtempSync(join(tmpdir(), "gpu-monitor-rpm-"));
  try {
    const unit = join(top, "gpu-monitor.service");
    writeFileSync(unit, packagedUnit());
    const define = (name: string, value: string) => ["--define", `${name} ${value}`];
    run(
      [
        "rpmbuild",
        "-bb",
        "--quiet",
        `--target=${arch}-linux`,
        ...define("_topdir", top),
        ...define("gm_version", version),
        ...define("gm_release", release),
        ...define("gm_binary", resolve(options.binary)),
        ...define("gm_unit", unit),
        ...define("gm_config", join(LINUX, "config.json")),
        join(LINUX, "rpm/gpu_monitor.spec"),
      ],
      "rpmbuild",
    );
    mkdirSync(options.folder, { recursive: true });
    const out = join(options.folder, `gpu_monitor-${version}-${release}.${arch}.rpm`);
    copyFileSync(join(top, "RPMS", arch, `gpu-monitor-${version}-${release}.${arch}.rpm`), out);
    return out;
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
}
