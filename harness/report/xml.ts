// Minimal XML writing: escaping and an element builder. Kernel logs end up in reports, so text
// may hold control bytes that XML 1.0 forbids; they are shown as \xNN instead of breaking the file.

// Characters XML 1.0 cannot carry at all (not even as character references).
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function replaceInvalid(text: string): string {
  return text.replace(INVALID_XML_CHARS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function escapeText(text: string): string {
  return replaceInvalid(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Attribute values also keep their newlines and tabs (an unescaped newline would be normalized to a space). */
export function escapeAttr(text: string): string {
  return escapeText(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

export interface XmlNode {
  name: string;
  attrs?: Record<string, string | number | undefined>;
  children?: XmlNode[];
  text?: string;
}

export function renderXml(node: XmlNode, indent = ''): string {
  const attrs = Object.entries(node.attrs ?? {})
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeAttr(String(v))}"`)
    .join('');
  const children = node.children ?? [];
  if (children.length === 0 && node.text === undefined) return `${indent}<${node.name}${attrs}/>`;
  if (children.length === 0) return `${indent}<${node.name}${attrs}>${escapeText(node.text ?? '')}</${node.name}>`;
  const inner = children.map((c) => renderXml(c, `${indent}  `)).join('\n');
  return `${indent}<${node.name}${attrs}>\n${inner}\n${indent}</${node.name}>`;
}
