/** The ONNX Runtime session flags shared by commands that run a model on ONNX Runtime (`--engine ort`, `.onnx`). */
import { type InferenceSessionOptions, ORT_LOG_LEVELS, type OrtLogLevel } from '../onnx/session.js';
import { integerOption, type OptionSpec, UsageError } from './args.js';

export const ORT_OPTIONS: OptionSpec = {
  threads: { type: 'string' },
  'execution-providers': { type: 'string' },
  'ort-log-level': { type: 'string' },
};

export const ORT_OPTIONS_HELP = `  --threads N         ONNX Runtime intra-op threads (default: one per core)
  --execution-providers LIST
                      ONNX Runtime providers in order, e.g. cuda,cpu (default cpu)
  --ort-log-level L   ${ORT_LOG_LEVELS.join(' | ')} (default warning)`;

/** Session options from the flags (unset flags leave ONNX Runtime's defaults). */
export function ortSessionFrom(values: Record<string, unknown>): InferenceSessionOptions {
  const session: InferenceSessionOptions = {};
  const threads = integerOption('threads', values.threads);
  if (threads !== undefined) session.threads = threads;
  if (values['execution-providers'] !== undefined) {
    const providers = String(values['execution-providers'])
      .split(',')
      .map((p) => p.trim());
    if (providers.some((p) => p === ''))
      throw new UsageError(
        `--execution-providers ${values['execution-providers']}: a comma-separated list of names`,
      );
    session.executionProviders = providers;
  }
  if (values['ort-log-level'] !== undefined) {
    const level = String(values['ort-log-level']);
    if (!(ORT_LOG_LEVELS as readonly string[]).includes(level))
      throw new UsageError(`--ort-log-level ${level}: choose one of ${ORT_LOG_LEVELS.join(', ')}`);
    session.logLevel = level as OrtLogLevel;
  }
  return session;
}
