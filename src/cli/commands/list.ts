/** `rla list [filter] [--json]`: registered model names. */
import { getModelEntry, listModels } from '../../models/index.js';
import { parseCommandArgs } from '../args.js';

export const LIST_USAGE = `usage: rla list [filter] [--json]
  filter   substring or wildcard pattern (e.g. 'rla_*_eca')
  --json   machine-readable output`;

export async function listCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, LIST_USAGE);
  if (values.help) {
    out(LIST_USAGE);
    return 0;
  }
  const names = listModels(positionals[0]);
  if (values.json) {
    const rows = names.map((name) => {
      const { family, officialFile, description } = getModelEntry(name);
      return { name, family, officialFile, description };
    });
    out(JSON.stringify(rows, null, 2));
  } else {
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const name of names) out(`${name.padEnd(width)}  ${getModelEntry(name).description}`);
  }
  return 0;
}
