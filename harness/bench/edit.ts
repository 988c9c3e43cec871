// The one-line edit of the edit-to-verdict figure: a developer's smallest real change to the
// series. Pure text manipulation of a git format-patch file.

export interface PatchEdit {
  text: string;
  /** 1-based line number in the patch file of the changed line */
  line: number;
  before: string;
  after: string;
}

/**
 * Append `tag` to the first added comment-body line ("+\t * words") of a hunk of `file` in the
 * patch. Only the content of a '+' line changes, never the line count, so the hunk headers
 * stay right and the patch applies exactly where it did; the file still compiles (the tag
 * stays inside the comment). Throws when the patch has no such line for `file`.
 */
export function editPatchLine(patch: string, file: string, tag: string): PatchEdit {
  if (/[\r\n]|\*\//.test(tag)) throw new RangeError(`edit tag must be one line without a comment end: ${JSON.stringify(tag)}`);
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
    // a comment body line: optional indentation, "*", a space, then text (not "*/")
    if (/^\+\s*\*\s+\S/.test(l) && !l.includes('*/')) {
      const after = `${l} ${tag}`;
      lines[i] = after;
      return { text: lines.join('\n'), line: i + 1, before: l, after };
    }
  }
  throw new RangeError(`no added comment line in a hunk of ${file} to edit`);
}
