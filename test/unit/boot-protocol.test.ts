// images/init against harness/boot-protocol.ts: the shell script cannot import the names, so this
// test reads it and holds it to them (a word renamed on one side only used to fail at boot).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CMDLINE_WORDS, cmdlineWord, diskDevice, diskMount, INIT_FAILED_MARKER, INIT_MARKS_FILE, MODULES_LIST, READY_MARK, READY_MARKER, SSH_PORT_NAME } from '../../harness/boot-protocol.js';
import { repoRoot } from '../../harness/config.js';

const init = readFileSync(join(repoRoot, 'images/init'), 'utf8');

/** The pinlab.* command-line words init reads: its `case` arms on a word and its `param NAME` calls. */
function wordsInitReads(text: string): string[] {
  const arms = [...text.matchAll(/case "\$w" in (pinlab\.[a-z]+)=\*\)/g)].map((m) => m[1]!);
  const params = [...text.matchAll(/\$\(param (pinlab\.[a-z]+)\)/g)].map((m) => m[1]!);
  return [...new Set([...arms, ...params])].sort();
}

/** The lines of the protocol init must carry, each as the host spells it. */
function protocolLines(): string[] {
  return [
    `echo "${READY_MARKER}" >/dev/console`,
    `echo "$up $*" >>${INIT_MARKS_FILE}`,
    `mark ${READY_MARK}\n`,
    `echo "${INIT_FAILED_MARKER} $*" >/dev/console`,
    `[ "$pname" = ${SSH_PORT_NAME} ]`,
    `[ -r ${MODULES_LIST} ]`,
    `ln -s "/dev/$dev" "${diskDevice('$name')}"`,
    `mount -t "$fs" "/dev/$dev" "${diskMount('$name')}"`,
  ];
}

test('images/init reads exactly the command-line words the host writes', (t) => {
  t.deepEqual(wordsInitReads(init), Object.values(CMDLINE_WORDS).sort());
});

test('images/init prints the markers and uses the port, module list and paths the host expects', (t) => {
  t.deepEqual(
    protocolLines().filter((l) => !init.includes(l)),
    [],
  );
});

test('the checks see a word or a marker init spells differently', (t) => {
  const drifted = init.replace(/pinlab\.shares/g, 'pinlab.share').replace(READY_MARKER, 'PINLAB-UP');
  t.notDeepEqual(wordsInitReads(drifted), Object.values(CMDLINE_WORDS).sort());
  t.deepEqual(
    protocolLines().filter((l) => !drifted.includes(l)),
    [`echo "${READY_MARKER}" >/dev/console`],
  );
});

test('a command-line word is NAME=values joined by commas', (t) => {
  t.is(cmdlineWord('modules', ['sd_mod', 'dm_mod']), 'pinlab.modules=sd_mod,dm_mod');
});
