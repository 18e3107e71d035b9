#!/usr/bin/env node
// The `rla` command: a thin launcher for the compiled CLI (run `npm run build` first in a source checkout).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
