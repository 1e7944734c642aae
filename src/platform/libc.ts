// The few libc calls Bun does not offer (unix datagram sockets, flock), through
// bun:ffi. The only FFI outside src/nvml/. Loaded on first use, once.

import { dlopen, FFIType, ptr } from "bun:ffi";

const CANDIDATES: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "/lib/ld-musl-x86_64.so.1", "/lib/ld-musl-aarch64.so.1"],
  darwin: ["/usr/lib/libSystem.B.dylib"],
};

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buffer: number, length: number, flags: number, address: number, addressLength: number): number | bigint;
  close(fd: number): number;
  flock(fd: number, operation: number): number;
  fcntl(fd: number, command: number, argument: number): number;
}

let loaded: Libc | null | undefined;
let loadError = "";

/** libc, or null where it cannot be loaded (Windows); `libcError()` says why. */
export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const errors: string[] = [];
  for (const path of CANDIDATES[process.platform] ?? []) {
    try {
      const library = dlopen(path, {
        socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      });
      loaded = library.symbols as unknown as Libc;
      return loaded;
    } catch (error) {
      errors.push(`${path}: ${(error as Error).message}`);
    }
  }
  loadError = errors.length ? errors.join("; ") : `no libc for ${process.platform}`;
  return null;
}

export function libcError(): string {
  return loadError;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

const F_OFD_SETLK = 37;
const F_RDLCK = 0;

/**
 * A read lock on bytes [start, start + length) of `fd`'s file, owned by that open file
 * description (Linux): unlike a POSIX lock it conflicts with this process's own POSIX
 * locks too. False where it cannot be had (no libc, not Linux).
 */
export function openFileReadLock(fd: number, start: number, length: number): boolean {
  const c = libc();
  if (!c || process.platform !== "linux") return false;
  const lock = new DataView(new ArrayBuffer(32)); // struct flock: type, whence, start, len, pid
  lock.setInt16(0, F_RDLCK, true);
  lock.setInt16(2, 0, true); // SEEK_SET
  lock.setBigInt64(8, BigInt(start), true);
  lock.setBigInt64(16, BigInt(length), true);
  return c.fcntl(fd, F_OFD_SETLK, Number(ptr(lock))) === 0;
}
