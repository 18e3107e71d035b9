/**
 * Each bench measurement runs in a fresh child process (its own heap, threads and JIT state, so one case cannot
 * slow the next). The child is the bench script itself started with `--child <spec as JSON>`; it prints its
 * results as JSON lines on stdout.
 */
import { spawn } from 'node:child_process';

/**
 * Runs `script --child JSON.stringify(spec)` and resolves with the JSON objects it printed (one per stdout line
 * starting with `{`), or with `failed: <first error line of stderr>` when it exited non-zero or printed none.
 */
export function runBenchChild<Row>(script: string, spec: unknown): Promise<Row[] | string> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [script, '--child', JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => {
      const rows = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Row);
      if (code === 0 && rows.length > 0) resolvePromise(rows);
      else {
        const message = stderr.split('\n').find((l) => /Error|error|Aborted/.test(l)) ?? `exit code ${code}`;
        resolvePromise(`failed: ${message.trim()}`);
      }
    });
  });
}
