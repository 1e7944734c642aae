// When to try a failed window again. Pure: the random number comes in.

export interface BackoffSettings {
  initialSeconds: number;
  maxSeconds: number;
}

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, initial * 2^(n-1))]
 * after the n-th failed attempt in a row; a server's Retry-After is honoured as a floor.
 */
export function retryDelaySeconds(
  failuresInARow: number,
  settings: BackoffSettings,
  random: number,
  retryAfterSeconds: number | null = null,
): number {
  const ceiling = Math.min(settings.maxSeconds, settings.initialSeconds * 2 ** Math.max(0, failuresInARow - 1));
  const jittered = random * ceiling;
  return retryAfterSeconds === null ? jittered : Math.max(jittered, retryAfterSeconds);
}
