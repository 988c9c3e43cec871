// Kernel configuration: tinyconfig + fragments merged with the kernel's own merge_config.sh,
// olddefconfig, then every symbol of every fragment is checked against the final .config.
// The config is generated in a scratch directory and copied into the build directory only when
// its content changed, so an unchanged config never retriggers a rebuild.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { runStep, type Step } from '../exec.js';
import type { RunContext } from '../context.js';
import type { PreparedTree } from './source.js';

export interface ConfigSymbol {
  name: string; // CONFIG_FOO
  value: string; // y, n, m, "string", 123
  fragment: string;
}

/** Parse a merge_config.sh-style fragment: CONFIG_X=v lines and "# CONFIG_X is not set". */
export function parseFragment(text: string, fragment = '<fragment>'): ConfigSymbol[] {
  const out: ConfigSymbol[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) {
      out.push({ name: set[1]!, value: set[2]!, fragment });
      continue;
    }
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) out.push({ name: unset[1]!, value: 'n', fragment });
  }
  return out;
}

/** Symbols of the fragments whose final value differs from what the fragment asked for. */
export function droppedSymbols(wanted: ConfigSymbol[], finalConfig: string): { symbol: ConfigSymbol; got: string }[] {
  const final = new Map<string, string>();
  for (const s of parseFragment(finalConfig)) final.set(s.name, s.value);
  const dropped: { symbol: ConfigSymbol; got: string }[] = [];
  // the last fragment that mentions a symbol wins, as in merge_config.sh
  const last = new Map<string, ConfigSymbol>();
  for (const s of wanted) last.set(s.name, s);
  for (const s of last.values()) {
    const got = final.get(s.name) ?? 'n';
    if (got !== s.value) dropped.push({ symbol: s, got: final.has(s.name) ? got : 'unset' });
  }
  return dropped;
}

export function planConfig(tree: PreparedTree, fragments: string[], scratch: string): Step[] {
  const o = (dir: string) => `O=${dir}`;
  const make = (args: string[]): Step => ({ phase: 'kernel:config', argv: ['make', '-s', '-C', tree.tree, o(scratch), ...args], timeoutMs: 10 * 60_000 });
  return [
    { phase: 'kernel:config', argv: ['rm', '-rf', scratch] },
    { phase: 'kernel:config', argv: ['mkdir', '-p', scratch] },
    make(['tinyconfig']),
    {
      phase: 'kernel:config',
      argv: [join(tree.tree, 'scripts/kconfig/merge_config.sh'), '-m', '-O', scratch, join(scratch, '.config'), ...fragments],
      cwd: tree.tree,
    },
    make(['olddefconfig']),
  ];
}

export interface ConfigResult {
  configPath: string;
  text: string;
  changed: boolean;
}

export async function configure(tree: PreparedTree, fragments: string[], ctx: RunContext, logFile?: string): Promise<ConfigResult> {
  const wanted: ConfigSymbol[] = [];
  for (const f of fragments) {
    if (!existsSync(f)) throw new UserError(`config fragment not found: ${f}`);
    wanted.push(...parseFragment(readFileSync(f, 'utf8'), f));
  }
  // a direct subdirectory of the tree, like the object dir
  const scratch = join(tree.tree, '.pinlab-cfg');
  for (const step of planConfig(tree, fragments, scratch)) await runStep({ ...step, logFile }, { signal: ctx.signal });
  const text = readFileSync(join(scratch, '.config'), 'utf8');
  const dropped = droppedSymbols(wanted, text);
  if (dropped.length > 0) {
    const list = dropped.map((d) => `${d.symbol.name}=${d.symbol.value} (got ${d.got}, from ${d.symbol.fragment})`).join('; ');
    throw new UserError(`config symbols did not stick after olddefconfig: ${list}`, {
      hint: 'a dependency is missing from the fragment (e.g. CONFIG_BLOCK for block drivers)',
    });
  }
  mkdirSync(tree.objDir, { recursive: true });
  const configPath = join(tree.objDir, '.config');
  const changed = !existsSync(configPath) || readFileSync(configPath, 'utf8') !== text;
  if (changed) copyFileSync(join(scratch, '.config'), configPath);
  return { configPath, text, changed };
}
