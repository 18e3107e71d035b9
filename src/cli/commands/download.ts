/** `rla download URL --sha256 H`: puts a weights file into the cache (or finds it there) and prints its path. */
import { DEFAULT_MAX_DOWNLOAD_BYTES, downloadToCache } from '../../hub/download.js';
import { integerOption, parseCommandArgs, UsageError } from '../args.js';

/** `rla download --help`. */
export const DOWNLOAD_USAGE = `usage: rla download URL [--sha256 HEX] [--dir DIR] [--max-mb N] [--offline]
  Downloads URL once into the weights cache and prints the cached file's path (stdout; messages go to stderr).
  --sha256 HEX   expected SHA-256 (64 hex digits): a file with another hash is refused and never cached
  --dir DIR      cache directory (default $RLA_HOME/weights; RLA_HOME defaults to $XDG_CACHE_HOME/rla-net
                 or ~/.cache/rla-net)
  --max-mb N     refuse files larger than N MiB (default ${DEFAULT_MAX_DOWNLOAD_BYTES / 2 ** 20})
  --offline      only look in the cache (also RLA_OFFLINE=1)
The cached path can be given to --weights of rla eval/predict/convert/export-onnx.`;

/** Runs `rla download`; returns the exit code. */
export async function downloadCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      sha256: { type: 'string' },
      dir: { type: 'string' },
      'max-mb': { type: 'string' },
      offline: { type: 'boolean' },
    },
    DOWNLOAD_USAGE,
  );
  if (values.help) {
    out(DOWNLOAD_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give exactly one URL\n\n${DOWNLOAD_USAGE}`);
  const maxMb = integerOption('max-mb', values['max-mb']);
  if (values.sha256 === undefined) {
    process.stderr.write('warning: no --sha256 given: the file is cached by URL and not verified\n');
  }
  const file = await downloadToCache(positionals[0], {
    sha256: values.sha256 === undefined ? undefined : String(values.sha256),
    cacheDir: values.dir === undefined ? undefined : String(values.dir),
    maxBytes: maxMb === undefined ? undefined : maxMb * 2 ** 20,
    offline: values.offline ? true : undefined,
    log: (message) => process.stderr.write(`${message}\n`),
  });
  if (!file.downloaded) process.stderr.write(`cached, sha256 ${file.sha256}\n`);
  out(file.path);
  return 0;
}
