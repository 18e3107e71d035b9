/**
 * The hook through which leaf layers report multiply-accumulates while `countMacs` runs a forward pass.
 * Mirrors thop 0.0.31's per-module forward hooks: each call of a leaf layer adds its count.
 * With `shapeOnly`, expensive leaves return zeros of the right shape instead of computing (counting needs shapes only).
 */
export interface OpCounter {
  macs: number;
  shapeOnly: boolean;
}

let active: OpCounter | null = null;

/** The counter of the `countMacs` run in progress, or null. */
export function activeCounter(): OpCounter | null {
  return active;
}

/** Runs `fn` with `counter` active (not re-entrant: counting runs are synchronous). */
export function withCounter<T>(counter: OpCounter, fn: () => T): T {
  const previous = active;
  active = counter;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

export function recordMacs(macs: number): void {
  if (active) active.macs += macs;
}
