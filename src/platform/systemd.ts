// systemd's notify protocol (Type=notify readiness, watchdog, stopping) without a
// library: one datagram per state on the unix socket named by $NOTIFY_SOCKET, sent
// with libc's socket/sendto through bun:ffi (Bun has no unix datagram sockets).
// libc comes from src/platform/libc.ts, loaded only when systemd asked for this.

import { ptr } from "bun:ffi";
import { libc as loadLibc, libcError, type Libc } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 108;


/** sockaddr_un for a path, or for the abstract namespace when the path starts with "@". */
export function unixAddress(path: string): { bytes: Uint8Array; length: number } {
  const name = Buffer.from(path.startsWith("@") ? `\0${path.slice(1)}` : path, "utf8");
  if (name.length >= SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET path is too long: ${path}`);
  const bytes = new Uint8Array(2 + SUN_PATH_MAX);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  bytes.set(name, 2);
  // Abstract names are exactly their bytes; paths include their terminating NUL.
  return { bytes, length: 2 + name.length + (path.startsWith("@") ? 0 : 1) };
}

export class SystemdNotifier {
  private constructor(
    private readonly libc: Libc,
    private readonly fd: number,
    private readonly address: { bytes: Uint8Array; length: number },
    /** How often to send WATCHDOG=1 (half of WATCHDOG_USEC), or null. */
    readonly watchdogIntervalMs: number | null,
  ) {}

  /** null when not started by systemd with Type=notify (no NOTIFY_SOCKET). Throws when libc cannot be used. */
  static fromEnvironment(env: Record<string, string | undefined> = process.env): SystemdNotifier | null {
    const socketPath = env.NOTIFY_SOCKET;
    if (!socketPath) return null;
    const libc = loadLibc();
    if (!libc) throw new Error(`NOTIFY_SOCKET is set but libc could not be loaded for sendto (${libcError()})`);
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error("socket(AF_UNIX, SOCK_DGRAM) failed");
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
    const watchdog = Number.isFinite(usec) && usec > 0 && forUs ? Math.max(1, Math.floor(usec / 2000)) : null;
    return new SystemdNotifier(libc, fd, unixAddress(socketPath), watchdog);
  }

  /** Sends one state ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."); false when it could not. */
  notify(state: string): boolean {
    const message = Buffer.from(state, "utf8");
    const sent = this.libc.sendto(this.fd, ptr(message), message.length, 0, ptr(this.address.bytes), this.address.length);
    return Number(sent) === message.length;
  }

  close(): void {
    this.libc.close(this.fd);
  }
}
