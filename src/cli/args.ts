/** Argument parsing shared by the `rla` subcommands (node:util parseArgs with friendly errors). */
import { parseArgs } from 'node:util';
import { BACKEND_NAMES, type BackendChoice, isBackendName } from '../engine/backend.js';

/** An error whose message is shown to the user as is (no stack), with exit code 2. */
export class UsageError extends Error {}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export const BACKEND_OPTION: OptionSpec = { backend: { type: 'string' } };

export function parseCommandArgs(
  argv: string[],
  options: OptionSpec,
  usage: string,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
}

export function backendOption(value: unknown): BackendChoice | undefined {
  if (value === undefined) return undefined;
  const name = String(value);
  if (name !== 'auto' && !isBackendName(name)) {
    throw new UsageError(`--backend ${name}: choose one of auto, ${BACKEND_NAMES.join(', ')}`);
  }
  return name as BackendChoice;
}

export function integerOption(name: string, value: unknown, { min = 1 } = {}): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${value}`);
  return parsed;
}
