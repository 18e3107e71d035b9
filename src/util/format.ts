/** Number formats shared by the trainer's log and the command line. */

/** A fraction as a percentage with two decimals ("76.50%"); "-" for a metric that was not measured. */
export function percent(fraction: number | null): string {
  return fraction === null ? '-' : `${(100 * fraction).toFixed(2)}%`;
}
