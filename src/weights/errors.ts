/**
 * Error classes for the weight-file readers and writers.
 *
 * Every problem with the *content* of a file (truncation, corruption, unsupported or unsafe
 * constructs) is reported as a subclass of {@link WeightsFormatError}, so callers can tell "this
 * file is bad" apart from programming errors (TypeError, RangeError) with one `instanceof`.
 */

/** Common base class of every format error raised under `src/weights/`. */
export class WeightsFormatError extends Error {
  override name = 'WeightsFormatError';
}

/** A ZIP archive is malformed, truncated or uses a feature this reader does not support. */
export class ZipError extends WeightsFormatError {
  override name = 'ZipError';
}

/** A pickle stream is malformed or uses an unsupported opcode; `offset` is the byte position. */
export class PickleError extends WeightsFormatError {
  override name = 'PickleError';
  /** Byte offset in the pickle stream where the problem was detected (-1 when unknown). */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(offset >= 0 ? `${message} (at pickle byte ${offset})` : message);
    this.offset = offset;
  }
}

/**
 * A pickle asked for a Python global that is not on the allowlist. Nothing was executed: the
 * unpickler refuses at the GLOBAL / STACK_GLOBAL opcode, before any call could happen.
 */
export class UnsafePickleError extends PickleError {
  override name = 'UnsafePickleError';
  /** The refused global as `module.name`. */
  readonly global: string;
  constructor(global: string, offset: number) {
    super(`refused global ${global}: not on the allowlist of safe checkpoint globals`, offset);
    this.global = global;
  }
}

/** A PyTorch checkpoint is structurally wrong (missing storage, bad tensor view, truncated data). */
export class CheckpointError extends WeightsFormatError {
  override name = 'CheckpointError';
}

/** A safetensors file is malformed (bad header, offsets, dtype, sizes). */
export class SafetensorsError extends WeightsFormatError {
  override name = 'SafetensorsError';
}
