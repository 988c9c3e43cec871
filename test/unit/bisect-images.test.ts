import test from 'ava';
import { bisectImages, entriesSince, parseChangelog } from '../../harness/bisect/images.js';
import type { Decision } from '../../harness/bisect/decision.js';
import { parseImageName, type DebianImage } from '../../harness/kernel/debian-images.js';

const images: DebianImage[] = [47, 48, 49, 50, 51, 52, 53, 54].map((n) => ({ ...parseImageName(`linux-image-6.1.0-${n}-amd64`)!, version: `6.1.${100 + n}-1` }));

function oracle(firstBad: number, skips: number[] = []) {
  const asked: number[] = [];
  const step = async (_: DebianImage, i: number): Promise<Decision> => {
    asked.push(i);
    return skips.includes(i) ? 'skip' : i >= firstBad ? 'bad' : 'good';
  };
  return { asked, step };
}

test('bisection over images finds the first bad one in log2 steps, ends checked first', async (t) => {
  for (let fb = 1; fb < images.length; fb++) {
    const o = oracle(fb);
    const r = await bisectImages(images, o.step);
    t.is(r.firstBad, fb, `first bad ${fb}`);
    t.is(r.lastGood, fb - 1);
    t.deepEqual(o.asked.slice(0, 2), [7, 0]);
    t.true(o.asked.length <= 2 + Math.ceil(Math.log2(images.length)), `${o.asked.length} steps`);
  }
});

test('no bad image, a bad first image, and skips that leave it open are said as such', async (t) => {
  t.is((await bisectImages(images, oracle(99).step)).firstBad, undefined);
  t.is((await bisectImages(images, oracle(0).step)).firstBad, 0);
  const r = await bisectImages(images, oracle(4, [3]).step);
  t.is(r.firstBad, undefined);
  t.deepEqual(r.undecided, [3]);
  t.is((await bisectImages(images, oracle(5, [3]).step)).firstBad, 5, 'a skip away from the edge is stepped around');
});

const CHANGELOG = `linux-signed-amd64 (6.1.192+3) bookworm-security; urgency=high

  * Sign kernel from linux 6.1.192-3

 -- A <a@debian.org>  Thu, 26 Nov 2026 18:12:56 +0100

linux (6.1.192-3) bookworm-security; urgency=high

  * block: fix a pin leak

 -- A <a@debian.org>  Thu, 26 Nov 2026 10:00:00 +0100

linux (6.1.192-2) bookworm-security; urgency=high

  * ext4: fix NULL folio dereference in mballoc

 -- A <a@debian.org>  Mon, 16 Nov 2026 11:17:40 +0100

linux (6.1.190-1) bookworm-security; urgency=high

  * New upstream stable update
`;

test('changelog entries between the last good version and the first bad', (t) => {
  const entries = parseChangelog(CHANGELOG);
  t.deepEqual(entries.map((e) => `${e.source} ${e.version}`), ['linux-signed-amd64 6.1.192+3', 'linux 6.1.192-3', 'linux 6.1.192-2', 'linux 6.1.190-1']);
  const since = entriesSince(entries, '6.1.192-2')!;
  t.deepEqual(since.map((e) => e.version), ['6.1.192+3', '6.1.192-3']);
  t.regex(since[1]!.text, /fix a pin leak/);
  t.is(entriesSince(entries, '6.1.100-1'), undefined);
});
