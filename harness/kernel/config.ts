// Kernel configuration: tinyconfig + fragments merged with the kernel's own merge_config.sh,
// olddefconfig, then every symbol of every fragment is checked against the final .config.
// The config is generated in a scratch directory and copied into the build directory only when
// its content changed, so an unchanged config never retriggers a rebuild.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { sha256 } from '../hash.js';
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
  // The scratch directory is kept between runs for the kconfig tools kbuild compiled there
  // (scripts/kconfig/conf and its parser: seconds of host compiling on every edit -> verdict):
  // tinyconfig starts from allnoconfig, which ignores any .config already there, and kbuild
  // rebuilds the tools when their sources change.
  return [
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

/** What the object directory's last generated .config was made from (configStamp), and that .config as generated. */
const CONFIG_STAMP = '.pinlab-config-stamp';
const CONFIG_GENERATED = '.pinlab-config-generated';

/**
 * What the generated .config depends on: the fragments' bytes, the compiler (Kconfig tests it),
 * and the tree's Kconfig files, tiny.config fragments and kconfig tool sources by their blob ids
 * in the tree's git index (~20 ms). Undefined for a tree that is not a git worktree of pinlab's
 * (a --source DIR), which is always configured.
 */
async function configStamp(tree: PreparedTree, fragments: string[], compiler: string | undefined, ctx: RunContext): Promise<string | undefined> {
  if (!compiler || !tree.commit || tree.source.spec.kind === 'dir') return undefined;
  const r = await runStep(
    {
      phase: 'kernel:config',
      argv: ['git', '-C', tree.tree, 'ls-files', '-s', '--', ':(glob)**/Kconfig*', 'arch/x86/configs/tiny.config', 'kernel/configs/tiny.config', ':(glob)scripts/kconfig/**'],
      timeoutMs: 60_000,
    },
    { signal: ctx.signal, allowFailure: true },
  );
  if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
  return sha256(JSON.stringify({ v: 1, compiler, fragments: fragments.map((f) => sha256(readFileSync(f))), kconfig: sha256(r.stdout) }));
}

export async function configure(tree: PreparedTree, fragments: string[], ctx: RunContext, logFile?: string, opts: { compiler?: string } = {}): Promise<ConfigResult> {
  const wanted: ConfigSymbol[] = [];
  for (const f of fragments) {
    if (!existsSync(f)) throw new UserError(`config fragment not found: ${f}`);
    wanted.push(...parseFragment(readFileSync(f, 'utf8'), f));
  }
  const configPath = join(tree.objDir, '.config');
  const stampFile = join(tree.objDir, CONFIG_STAMP);
  const generated = join(tree.objDir, CONFIG_GENERATED);
  const stamp = await configStamp(tree, fragments, opts.compiler, ctx);
  // The same inputs as the last generated .config (an edit of a .c file of the series, say):
  // that .config again, without the ~6-12 s of tinyconfig, merge and olddefconfig (each a full
  // Kconfig parse); what follows is as after a generation that gave the same text.
  if (stamp && existsSync(stampFile) && existsSync(generated) && readFileSync(stampFile, 'utf8') === stamp) {
    const text = readFileSync(generated, 'utf8');
    if (droppedSymbols(wanted, text).length === 0) {
      const changed = !existsSync(configPath) || readFileSync(configPath, 'utf8') !== text;
      if (changed) copyFileSync(generated, configPath);
      return { configPath, text, changed };
    }
  }
  rmSync(stampFile, { force: true });
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
  const changed = !existsSync(configPath) || readFileSync(configPath, 'utf8') !== text;
  if (changed) copyFileSync(join(scratch, '.config'), configPath);
  if (stamp) {
    copyFileSync(join(scratch, '.config'), generated);
    writeFileSync(stampFile, stamp);
  }
  return { configPath, text, changed };
}
