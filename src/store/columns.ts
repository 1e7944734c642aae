// The one shape every reader of raw samples gets: one GPU's samples as columns.
// Pure.

/** One GPU's samples: times ascending, and one value array per SAMPLE_METRICS entry, in that order. */
export interface SampleColumns {
  gpuId: number;
  ts: number[];
  values: Array<Array<number | null>>;
}

export function emptyColumns(gpuId: number, columnCount: number): SampleColumns {
  return { gpuId, ts: [], values: Array.from({ length: columnCount }, () => []) };
}

/**
 * One GPU's columns from parts each ordered by time. Where two parts hold the
 * same time, the earlier part wins: pass newer data (raw rows over a block) first.
 */
export function mergeNewerFirst(parts: readonly SampleColumns[]): SampleColumns {
  const live = parts.filter((part) => part.ts.length > 0);
  if (live.length <= 1) return live[0] ?? parts[0]!;
  const merged = emptyColumns(live[0]!.gpuId, live[0]!.values.length);
  const heads = new Array<number>(live.length).fill(0);
  for (;;) {
    let best = -1;
    for (let k = 0; k < live.length; k++) {
      const time = live[k]!.ts[heads[k]!];
      if (time !== undefined && (best < 0 || time < live[best]!.ts[heads[best]!]!)) best = k;
    }
    if (best < 0) return merged;
    const part = live[best]!;
    const at = heads[best]!++;
    if (merged.ts.length > 0 && merged.ts[merged.ts.length - 1] === part.ts[at]) continue; // an earlier part had this time
    merged.ts.push(part.ts[at]!);
    for (let c = 0; c < merged.values.length; c++) merged.values[c]!.push(part.values[c]![at]!);
  }
}

/** Consecutive pieces of one GPU's samples (each later than the one before) as one. */
export function concatColumns(pieces: readonly SampleColumns[]): SampleColumns {
  if (pieces.length === 1) return pieces[0]!;
  return {
    gpuId: pieces[0]!.gpuId,
    ts: pieces.flatMap((piece) => piece.ts),
    values: pieces[0]!.values.map((_, c) => pieces.flatMap((piece) => piece.values[c]!)),
  };
}
