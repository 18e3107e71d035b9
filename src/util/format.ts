/** Number formats shared by the trainer's log and the command line. */

/** A fraction as a percentage with two decimals ("76.50%"); "-" for a metric that was not measured. */
export function percent(fraction: number | null): string {
  return fraction === null ? '-' : `${(100 * fraction).toFixed(2)}%`;
}

/**
 * `str(x)` of a Python float (or numpy float64): the shortest round-trip digits like JavaScript's, but integral
 * values keep ".0" and exponents have a sign and at least two digits ("1e-05"), used outside [1e-4, 1e16).
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const abs = Math.abs(x);
  if (abs === 0 || (abs >= 1e-4 && abs < 1e16)) {
    const text = String(x);
    return Number.isInteger(x) ? `${text}.0` : text;
  }
  const [mantissa, exponent] = x.toExponential().split('e');
  const sign = exponent.startsWith('-') ? '-' : '+';
  return `${mantissa}e${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
}

/**
 * Python's `'{:.Nf}'.format(x)`: correctly rounded like `toFixed`, but exact ties (76.0625 to 3 digits) go to
 * the even digit as Python does, where `toFixed` rounds them up.
 */
export function pythonFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return pythonFloatRepr(x);
  // A double's exact decimal expansion has at most ~1075 digits, but values with a tie at `digits` are
  // multiples of 2^-k for small k: 60 more digits show every tie a float of magnitude >= 2^-60 can have.
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 60));
  const cut = exact.indexOf('.') + digits + (digits > 0 ? 1 : 0);
  const rest = exact.slice(cut).replace('.', '');
  const isTie = /^50*$/.test(rest);
  if (!isTie) return x.toFixed(digits);
  const kept = exact.slice(0, cut).replace(/\.$/, '');
  const lastDigit = Number(kept.replace('.', '').slice(-1));
  // Even: truncate; odd: toFixed already rounds the tie away from zero, to the even neighbour.
  if (lastDigit % 2 === 0) return `${x < 0 ? '-' : ''}${kept}`;
  return x.toFixed(digits);
}
