// Ticks read while the database could not take them (locked by another program,
// disk full), kept in memory until it can. Bounded: past the capacity the oldest
// go, and are counted. Pure.

import type { TickGpu } from "../store/samples.ts";

export interface PendingTick {
  ts: number;
  gpus: readonly TickGpu[];
}

/** An hour of ticks at the interval, so that a lock or a full disk of up to an hour loses nothing. */
export function backlogCapacity(intervalSeconds: number): number {
  return Math.ceil(3600 / intervalSeconds) + 1;
}

export class TickBacklog {
  private ticks: PendingTick[] = [];
  /** Ticks dropped, oldest first, since the backlog last emptied. */
  dropped = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.ticks.length;
  }

  /** Adds a tick; returns true when that made the oldest one go. */
  push(tick: PendingTick): boolean {
    this.ticks.push(tick);
    if (this.ticks.length <= this.capacity) return false;
    this.ticks.shift();
    this.dropped++;
    return true;
  }

  pending(): readonly PendingTick[] {
    return this.ticks;
  }

  /** Empties it (the ticks were stored, or given up on); returns how many were dropped meanwhile. */
  clear(): number {
    const dropped = this.dropped;
    this.ticks = [];
    this.dropped = 0;
    return dropped;
  }
}
