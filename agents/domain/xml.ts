/**
 * Tiny XML text helpers for the domain and volume builders: escaping only, no DOM.
 * Owns: attribute/text escaping and the minimal read-back used to compare definitions.
 */

/** Escapes text for an XML attribute value or element content. */
export function esc(s: string | number): string {
  return String(s).replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Undoes esc() and the five named entities libvirt writes back. */
export function unesc(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCharCode(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Indents every line of a fragment by `n` spaces (fragments are joined into one document). */
export function indent(fragment: string, n: number): string {
  const pad = ' '.repeat(n);
  return fragment
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}

/** The value of attribute `name` in an element's opening tag text, unescaped. */
export function attrOf(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(tag);
  if (!m) return undefined;
  return unesc(m[1] ?? m[2] ?? '');
}
