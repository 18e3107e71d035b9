/** Entry point of the `rla` command line tool: dispatches to one module per subcommand. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../data/sources.js';
import { UsageError } from './args.js';
import { bestCommand } from './commands/best.js';
import { convertCommand } from './commands/convert.js';
import { detectCommand } from './commands/detect.js';
import { downloadCommand } from './commands/download.js';
import { evalCommand } from './commands/eval.js';
import { evalCocoCommand } from './commands/eval-coco.js';
import { exportOnnxCommand } from './commands/export-onnx.js';
import { infoCommand } from './commands/info.js';
import { listCommand } from './commands/list.js';
import { plotCommand } from './commands/plot.js';
import { predictCommand } from './commands/predict.js';
import { quantizeCommand } from './commands/quantize.js';
import { runCommand } from './commands/run.js';
import { studyCommand } from './commands/study.js';
import { trainCommand } from './commands/train.js';
import { visualizeCommand } from './commands/visualize.js';

type Command = (argv: string[], out: (line: string) => void) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  list: { run: listCommand, summary: 'list registered models' },
  info: { run: infoCommand, summary: 'parameter and MAC counts of a model' },
  convert: { run: convertCommand, summary: 'convert weights between PyTorch .pth and safetensors' },
  run: { run: runCommand, summary: 'run a model on tensors from a safetensors file (verification)' },
  'export-onnx': { run: exportOnnxCommand, summary: 'export a model with its weights to ONNX' },
  quantize: {
    run: quantizeCommand,
    summary: 'int8-quantize a model to ONNX (QDQ), calibrated on real images',
  },
  train: { run: trainCommand, summary: 'train a model with the paper recipes (resumable)' },
  eval: { run: evalCommand, summary: 'top-1/top-5 accuracy of a weights file on a dataset split' },
  predict: { run: predictCommand, summary: 'top-5 classes with probabilities for images' },
  plot: {
    run: plotCommand,
    summary: 'accuracy, top-5 and loss curves (SVG, PNG) of a training run or train.py logs',
  },
  best: { run: bestCommand, summary: "a training run's best epoch and its top-1/top-5" },
  detect: {
    run: (argv, out) => detectCommand(argv, out),
    summary: 'COCO detections (boxes, masks) of an image',
  },
  'eval-coco': {
    run: (argv, out) => evalCocoCommand(argv, out),
    summary: "a detector's COCO AP (pycocotools' 12 numbers)",
  },
  download: { run: downloadCommand, summary: 'download weights by URL into the checksummed cache' },
  visualize: {
    run: visualizeCommand,
    summary: 'PNGs of h, mean |x| and Grad-CAM on an image; DenseNet shared-weight norms by lag',
  },
  study: { run: studyCommand, summary: 'models x k x seeds with one recipe: a resumable comparison table' },
};

/**
 * JavaScript's own exceptions: from a hostile or degenerate input they mean a check is missing, and their text
 * ("Invalid typed array length: Infinity", "Cannot read properties of undefined") names neither the file nor
 * the problem.
 */
const RAW_EXCEPTIONS = [TypeError, RangeError, SyntaxError, ReferenceError];

/** `WebAssembly.RuntimeError` (the project's TypeScript lib declares the WebAssembly namespace as types only). */
export const WASM_RUNTIME_ERROR = (
  globalThis as { WebAssembly?: { RuntimeError?: new (message?: string) => Error } }
).WebAssembly?.RuntimeError;

/** What the user sees when `rla <command>` fails: our errors' messages, and a plain statement for raw ones. */
export function failureMessage(command: string, error: unknown): string {
  if (error instanceof Error && WASM_RUNTIME_ERROR !== undefined && error instanceof WASM_RUNTIME_ERROR) {
    // TF.js wasm's heap is one 32-bit memory: a run that outgrows it ends in "memory access out of bounds" or
    // Emscripten's "Aborted()" (seen training two ResNet-101s at 224x224 in one process, and when a leak grew it).
    return (
      `rla ${command}: the TF.js wasm backend failed (${error.message.split('.')[0]}), usually because its heap ` +
      '(4 GB at most per instance) is exhausted: use a smaller --batch-size or input size, --engine ort, or ' +
      '--backend cpu'
    );
  }
  if (error instanceof Error && !RAW_EXCEPTIONS.some((kind) => error instanceof kind)) {
    return `rla ${command}: ${error.message}`;
  }
  const kind = error instanceof Error ? error.name : typeof error;
  return (
    `rla ${command}: failed on an input that rla-net does not check yet (internal ${kind}); ` +
    'please report the command and its files (RLA_DEBUG=1 prints the details)'
  );
}

/** The package's version (package.json), as `rla --version` prints it. */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(12)} ${summary}`);
  return `usage: rla <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nrla <command> --help shows a command's options; rla --version prints the version.`;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. Output goes to stdout/stderr. */
export async function main(
  argv: string[],
  out: (line: string) => void = (line) => console.log(line),
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    out(`rla-net ${packageVersion()}`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`rla: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest, out);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`rla ${name}: ${error.message}`);
      return 2;
    }
    console.error(failureMessage(name, error));
    if (process.env.RLA_DEBUG) console.error(error instanceof Error ? error.stack : error);
    return 1;
  }
}
