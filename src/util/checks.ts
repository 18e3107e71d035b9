/** Argument checks shared across the package (values may come from untyped CLI, config or file input). */

/** Throws "`name` must be a positive integer, got `value`" unless `value` is an integer >= 1. */
export function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${value}`);
}
