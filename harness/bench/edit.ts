// The one-line edit of the edit-to-verdict figure: a developer's smallest real change to the
// series. Pure text manipulation of a git format-patch file.

export interface PatchEdit {
  text: string;
  /** 1-based line number in the patch file of the changed line */
  line: number;
  before: string;
  after: string;
}

/** An added line that is one whole function-call statement: tab-indented, `name(...);`. */
const CALL_STATEMENT = /^\+\t+[A-Za-z_]\w*\(.*\);$/;

/**
 * Turn the first added function-call statement line ("+\t\tname(args);") of a hunk of `file`
 * into `name(args), (void)"<tag>";`: still one statement (so no misleading-indentation warning
 * under an unbraced if), and the call still happens. The edit changes the code the compiler
 * sees (a comment would not: ccache hashes the preprocessed source, so a comment edit is a
 * cache hit and no compile at all), and a new tag each time makes every edit a real recompile;
 * the statement has no effect, so the kernel behaves as before. Only the content of a '+' line
 * changes, never the line count, so the hunk headers stay right and the patch applies exactly
 * where it did. Throws when the patch has no such line for `file`.
 */
export function editPatchLine(patch: string, file: string, tag: string): PatchEdit {
  if (/[\r\n"\\]/.test(tag)) throw new RangeError(`edit tag must be one line without quotes or backslashes: ${JSON.stringify(tag)}`);
  const lines = patch.split('\n');
  let inFile = false;
  let inHunk = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith('diff --git ')) {
      inFile = l === `diff --git a/${file} b/${file}`;
      inHunk = false;
      continue;
    }
    if (!inFile) continue;
    if (l.startsWith('@@ ')) {
      inHunk = true;
      continue;
    }
    if (!inHunk || l.startsWith('+++')) continue;
    if (CALL_STATEMENT.test(l)) {
      const after = `${l.slice(0, -1)}, (void)"${tag}";`;
      lines[i] = after;
      return { text: lines.join('\n'), line: i + 1, before: l, after };
    }
  }
  throw new RangeError(`no added function-call statement in a hunk of ${file} to edit`);
}
