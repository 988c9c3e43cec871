// `pinlab bisect --images`: bisection over an ordered list of prebuilt images (Debian versions)
// instead of a git range. Each step is `pinlab check` on one image (same thresholds and
// judging); the answer is the first bad package version, with the entries of its
// changelog.Debian.gz between the last good version and it.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { paths, runsRoot } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { imageProfile, listDebianImages, seriesImages, type DebianImage } from '../kernel/debian-images.js';
import { lookupArtifact } from '../kernel/build.js';
import { newRunId } from '../pipeline.js';
import type { Outcome } from '../outcome.js';
import { checkRequest, runCheck, type CheckArgs } from './check.js';
import type { Decision } from './decision.js';

type Step = (image: DebianImage, index: number) => Promise<Decision>;

export interface ImageBisection {
  /** index of the first bad image, undefined when none was bad (or only skips decided) */
  firstBad?: number;
  lastGood?: number;
  decisions: Map<number, Decision>;
  /** candidates left when skips stopped the search */
  undecided: number[];
}

/**
 * Binary search for the first bad image of an ordered list whose first image is good and last
 * is bad (both checked first). A skipped image is left out and its neighbour tried. Pure apart
 * from `step`.
 */
export async function bisectImages(images: readonly DebianImage[], step: Step): Promise<ImageBisection> {
  const decisions = new Map<number, Decision>();
  const decide = async (i: number) => {
    if (!decisions.has(i)) decisions.set(i, await step(images[i]!, i));
    return decisions.get(i)!;
  };
  if (images.length === 0) return { decisions, undecided: [] };
  const last = images.length - 1;
  if ((await decide(last)) !== 'bad') return { decisions, undecided: [] };
  if ((await decide(0)) === 'bad') return { firstBad: 0, decisions, undecided: [] };
  let good = 0;
  let bad = last;
  for (;;) {
    const open = [];
    for (let i = good + 1; i < bad; i++) if (decisions.get(i) !== 'skip') open.push(i);
    if (open.length === 0) break;
    const mid = open[Math.floor((open.length - 1) / 2)]!;
    const d = await decide(mid);
    if (d === 'good') good = mid;
    else if (d === 'bad') bad = mid;
  }
  const undecided = [];
  for (let i = good + 1; i < bad; i++) undecided.push(i);
  return undecided.length ? { lastGood: good, decisions, undecided } : { firstBad: bad, lastGood: good, decisions, undecided };
}

export interface ChangelogEntry {
  source: string;
  version: string;
  header: string;
  text: string;
}

/** Debian changelog text -> entries, newest first. Pure. */
export function parseChangelog(text: string): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  let cur: ChangelogEntry | undefined;
  for (const line of text.split('\n')) {
    const h = /^(\S+) \(([^)]+)\) .*;/.exec(line);
    if (h) {
      cur = { source: h[1]!, version: h[2]!, header: line, text: `${line}\n` };
      entries.push(cur);
    } else if (cur) cur.text += `${line}\n`;
  }
  return entries;
}

/**
 * The entries a bad image's changelog has that the good version had not: from the top down to
 * (not including) the good image's own `linux` entry. A signed package's changelog starts with
 * its linux-signed-* wrapper entries; they are kept. Pure.
 */
export function entriesSince(entries: readonly ChangelogEntry[], goodVersion: string): ChangelogEntry[] | undefined {
  const stop = entries.findIndex((e) => e.version === goodVersion && !e.source.startsWith('linux-signed'));
  return stop < 0 ? undefined : entries.slice(0, stop);
}

export interface ImageBisectOpts extends CheckArgs {
  images?: string;
  series?: string;
  flavour?: string;
  good?: string;
  bad?: string;
}

/** The ordered list: `--images PKG=VER,...` as given, or a series (flavour) between --good and --bad versions. */
async function imageList(ctx: RunContext, o: ImageBisectOpts): Promise<DebianImage[]> {
  const all = await listDebianImages(ctx);
  let list: DebianImage[];
  if (o.images) {
    list = o.images.split(',').map((spec) => {
      const [pkg, version] = spec.split('=');
      const found = all.find((i) => i.pkg === pkg && (!version || i.version === version));
      if (!found) throw new UserError(`--images: apt offers no ${spec}`, { hint: 'pinlab kernels lists what apt offers' });
      return found;
    });
  } else {
    if (!o.series) throw new UserError('bisect over images needs --images PKG=VER,... or --series X.Y');
    list = seriesImages(all, o.series, o.flavour ?? 'amd64');
  }
  const at = (v: string | undefined, end: 'first' | 'last') => {
    if (!v) return end === 'first' ? 0 : list.length - 1;
    const i = list.findIndex((x) => x.version === v || x.pkg === v);
    if (i < 0) throw new UserError(`--${end === 'first' ? 'good' : 'bad'} ${v}: not in the image list (${list.map((x) => x.version).join(', ')})`);
    return i;
  };
  const from = at(o.good, 'first');
  const to = at(o.bad, 'last');
  if (to <= from) throw new UserError('--bad must come after --good in the list (oldest first)');
  return list.slice(from, to + 1);
}

export async function bisectImagesCommand(ctx: RunContext, o: ImageBisectOpts & { runDir?: string }): Promise<Outcome> {
  const images = await imageList(ctx, o);
  const dir = o.runDir ?? join(runsRoot(), `bisect-images-${newRunId()}`);
  mkdirSync(join(dir, 'steps'), { recursive: true });
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`bisect: ${images.length} images, oldest first: ${images.map((i) => i.version).join(' ')}`);
  const result = await bisectImages(images, async (image, i) => {
    const req = checkRequest({ ...o, profile: imageProfile(image), source: undefined, json: undefined, runDir: join(dir, 'steps', `${String(i).padStart(2, '0')}-${image.version}`) });
    const record = await runCheck(ctx, req);
    out(`bisect: ${image.pkg}=${image.version}: ${record.result.decision} (${record.result.why})`);
    return record.result.decision;
  });
  const lines: string[] = [];
  const name = (i: number) => `${images[i]!.pkg}=${images[i]!.version}`;
  if (result.firstBad === undefined) {
    lines.push(result.undecided.length ? `bisect: could not decide: skipped images left between ${name(result.lastGood!)} and the first bad: ${result.undecided.map(name).join(', ')}` : `bisect: no bad image: ${name(images.length - 1)} is ${result.decisions.get(images.length - 1)}`);
  } else if (result.firstBad === 0) {
    lines.push(`bisect: the first image of the list is already bad: ${name(0)}`);
  } else {
    const bad = images[result.firstBad]!;
    const good = images[result.lastGood!]!;
    lines.push(`bisect: first bad ${name(result.firstBad)} (last good ${name(result.lastGood!)})`);
    const artifact = findArtifact(bad);
    const changelog = artifact && existsSync(join(artifact, 'changelog.gz')) ? gunzipSync(readFileSync(join(artifact, 'changelog.gz'))).toString('utf8') : undefined;
    const since = changelog ? entriesSince(parseChangelog(changelog), good.version) : undefined;
    if (!since) lines.push(`changelog: ${changelog ? `no entry for ${good.version} in ${bad.pkg}'s changelog` : 'not in the cached image'}`);
    else {
      lines.push(`changelog entries of ${bad.pkg} since ${good.version} (${since.length}):`);
      for (const e of since) lines.push(e.text.trimEnd());
    }
  }
  writeFileSync(join(dir, 'bisect.txt'), `${lines.join('\n')}\n`);
  for (const l of lines) out(l);
  out(`bisect directory: ${dir}`);
  return result.firstBad !== undefined ? { kind: 'ok' } : { kind: 'infra' };
}

/** The cached kernel directory of an image the bisection ran (meta.json names its identity). */
function findArtifact(image: DebianImage): string | undefined {
  const identity = `debian-image:${image.pkg}=${image.version}`;
  if (!existsSync(paths.kernels())) return undefined;
  for (const key of readdirSync(paths.kernels())) {
    const a = /^[0-9a-f]{32}$/.test(key) ? lookupArtifact(key) : undefined;
    if (a?.meta.identity === identity) return a.dir;
  }
  return undefined;
}
