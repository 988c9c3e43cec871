#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm ci` / `npm install` via prepare).
import { main } from '../dist/harness/cli.js';

process.exit(await main(process.argv.slice(2)));
