// The modules an image kernel's guest needs, planned from modules.dep, modules.builtin and the
// soft dependencies, and packed decompressed into modules.cpio with the list init loads.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MODULES_LIST } from '../boot-protocol.js';
import type { RunContext } from '../context.js';
import { cpioStep } from '../cpio.js';
import { UserError } from '../errors.js';
import { runStep } from '../exec.js';

/**
 * What the guest loads when the kernel has it as a module, in this order: the PCI transport,
 * the ssh channel, the disks, the 9p shares (repository and tools), the file systems under test
 * (ext2 is served by ext4 on Debian: CONFIG_EXT4_USE_FOR_EXT2), vfat's code pages, loop.
 */
export const GUEST_MODULES = [
  'virtio_pci',
  'virtio_console',
  'virtio_blk',
  'nvme',
  '9pnet_virtio',
  '9p',
  'ext4',
  'ext2',
  'vfat',
  'nls_cp437',
  'nls_ascii',
  'nls_utf8',
  'loop',
];

/**
 * Shipped in the modules cpio but loaded only when the VM has a device or stack that needs them
 * (the hardware variants' virtio-scsi disk and device-mapper targets): the guest init modprobes
 * the names of the `pinlab.modules=` word (vm/session.ts), so other runs boot no slower.
 */
export const ON_DEMAND_MODULES = ['virtio_scsi', 'sd_mod', 'dm_mod', 'dm_crypt', 'essiv', 'reiserfs'];

/** modules.dep text -> module file (relative) -> its dependencies (relative). Pure. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    deps.set(line.slice(0, colon), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** A module's name from its file (dashes and underscores are one to modprobe). */
export function moduleName(file: string): string {
  return basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export interface ModulePlan {
  /** module files to ship (relative to lib/modules/REL), dependencies before dependents */
  files: string[];
  /** wanted modules the guest loads, in GUEST_MODULES order */
  load: string[];
  builtin: string[];
  missing: string[];
  /** ON_DEMAND_MODULES shipped as modules (absent: none planned) */
  onDemand?: string[];
}

/**
 * Soft dependencies (modules.softdep "softdep MOD pre: X Y"), with aliases resolved through
 * modules.alias (crypto-crc32c -> crc32c_generic, preferred over CPU-specific variants, which an
 * emulated CPU may lack). ext4 and jbd2 cannot mount without crc32c this way. Pure.
 */
export function parseSoftdeps(softdepText: string, aliasText: string, known: ReadonlySet<string>): Map<string, string[]> {
  const aliases = new Map<string, string[]>();
  for (const m of aliasText.matchAll(/^alias (\S+) (\S+)$/gm)) aliases.set(m[1]!, [...(aliases.get(m[1]!) ?? []), m[2]!.replace(/-/g, '_')]);
  const resolve1 = (n: string): string | undefined => {
    const name = n.replace(/-/g, '_');
    if (known.has(name)) return name;
    const targets = (aliases.get(n) ?? []).filter((t) => known.has(t));
    return targets.find((t) => t.endsWith('_generic')) ?? targets[0];
  };
  const soft = new Map<string, string[]>();
  for (const m of softdepText.matchAll(/^softdep (\S+) (.*)$/gm)) {
    const pre = /pre:((?:\s+[^\s:]+(?=\s|$))+)/.exec(m[2]!)?.[1]?.trim().split(/\s+/) ?? [];
    const resolved = pre.map(resolve1).filter((x): x is string => !!x);
    if (resolved.length) soft.set(m[1]!.replace(/-/g, '_'), resolved);
  }
  return soft;
}

/** Which module files the guest needs for `wanted`, given modules.dep and modules.builtin. Pure. */
export function planModules(wanted: readonly string[], depText: string, builtinText: string, softdepText = '', aliasText = ''): ModulePlan {
  const deps = parseModulesDep(depText);
  const byName = new Map([...deps.keys()].map((f) => [moduleName(f), f]));
  const builtinNames = new Set(builtinText.split('\n').filter(Boolean).map(moduleName));
  const soft = parseSoftdeps(softdepText, aliasText, new Set(byName.keys()));
  const files: string[] = [];
  const seen = new Set<string>();
  const load: string[] = [];
  const visit = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    // a soft dependency loads first, by name (modprobe does not follow it from modules.dep)
    for (const s of soft.get(moduleName(f)) ?? []) {
      const sf = byName.get(s)!;
      if (!seen.has(sf) && !load.includes(s)) {
        visit(sf);
        load.push(s);
      }
    }
    for (const d of deps.get(f) ?? []) visit(d);
    files.push(f);
  };
  const builtin: string[] = [];
  const missing: string[] = [];
  for (const w of wanted) {
    const name = w.replace(/-/g, '_');
    const f = byName.get(name);
    if (f) {
      visit(f);
      if (!load.includes(name)) load.push(name);
    } else if (builtinNames.has(name)) builtin.push(name);
    else missing.push(name);
  }
  return { files, load, builtin, missing };
}

async function decompressInto(src: string, dest: string, ctx: RunContext): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  if (src.endsWith('.ko')) return copyFileSync(src, dest);
  if (src.endsWith('.gz')) return writeFileSync(dest, gunzipSync(readFileSync(src)));
  const tool = src.endsWith('.xz') ? 'xz' : src.endsWith('.zst') ? 'zstd' : undefined;
  if (!tool) throw new UserError(`module ${src}: unknown compression`);
  // execa's output is text and modules are binary: the shell writes the file
  await runStep({ phase: 'kernel:image', argv: ['sh', '-c', `${tool} -dc "$1" > "$2"`, 'sh', src, dest], timeoutMs: 60_000 }, { signal: ctx.signal });
}

/**
 * Build modules.cpio for `release` from a lib/modules/RELEASE tree (modules.dep made by depmod
 * when the tree has none, as a .deb's has not: its postinst runs depmod).
 */
export async function buildModulesCpio(modRoot: string, release: string, out: string, work: string, ctx: RunContext): Promise<ModulePlan> {
  let depText: string;
  if (existsSync(join(modRoot, 'modules.dep'))) depText = readFileSync(join(modRoot, 'modules.dep'), 'utf8');
  else {
    // depmod -b BASE wants BASE/lib/modules/RELEASE
    if (basename(modRoot) !== release || basename(dirname(modRoot)) !== 'modules') {
      throw new UserError(`--modules ${modRoot}: no modules.dep there, and it is not a lib/modules/${release} tree depmod could index`);
    }
    await runStep({ phase: 'kernel:image', argv: ['depmod', '-b', dirname(dirname(dirname(modRoot))), release], timeoutMs: 120_000 }, { signal: ctx.signal });
    depText = readFileSync(join(modRoot, 'modules.dep'), 'utf8');
  }
  const text = (name: string) => (existsSync(join(modRoot, name)) ? readFileSync(join(modRoot, name), 'utf8') : '');
  const builtinFile = join(modRoot, 'modules.builtin');
  const plan = planModules(GUEST_MODULES, depText, text('modules.builtin'), text('modules.softdep'), text('modules.alias'));
  if (plan.load.length === 0) return plan;
  // the on-demand modules travel too (their dependencies after the base set's)
  const full = planModules([...GUEST_MODULES, ...ON_DEMAND_MODULES], depText, text('modules.builtin'), text('modules.softdep'), text('modules.alias'));
  plan.files = full.files;
  plan.onDemand = ON_DEMAND_MODULES.filter((m) => full.load.includes(m));
  const tree = join(work, 'tree');
  rmSync(tree, { recursive: true, force: true });
  const dest = join(tree, 'usr/lib/modules', release);
  const plain = (f: string) => f.replace(/\.ko\.(xz|zst|gz)$/, '.ko');
  for (const f of plan.files) await decompressInto(join(modRoot, f), join(dest, plain(f)), ctx);
  const deps = parseModulesDep(depText);
  writeFileSync(join(dest, 'modules.dep'), plan.files.map((f) => `${plain(f)}: ${(deps.get(f) ?? []).map(plain).join(' ')}\n`).join(''));
  if (existsSync(builtinFile)) copyFileSync(builtinFile, join(dest, 'modules.builtin'));
  mkdirSync(join(tree, 'etc'), { recursive: true });
  writeFileSync(join(tree, MODULES_LIST.slice(1)), `${plan.load.join('\n')}\n`);
  await runStep(await cpioStep(tree, out, 'kernel:image:cpio'), { signal: ctx.signal });
  rmSync(tree, { recursive: true, force: true });
  return plan;
}
