// A cheap scan of YAML text for how deeply it nests, before the YAML parser sees it: the parser
// recurses per level, and a body of a million "[" (well under the size limit) costs it seconds of
// CPU and then all the memory of the process. Conservative: counts flow brackets outside quotes
// and comments, increasing block indentation, and compact "- - -" sequences.

export function yamlNestingExceeds(text: string, maxDepth: number): boolean {
  // Flow collections: [ and { outside quoted scalars and comments.
  let depth = 0;
  let quote: '"' | "'" | undefined;
  let prev = '\n';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (quote === '"' && c === '\\') i++;
      else if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") i++;
        else quote = undefined;
      }
    } else if (c === '#' && (prev === ' ' || prev === '\t' || prev === '\n')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ((c === '"' || c === "'") && /[\s\[{,:-]/.test(prev)) {
      quote = c;
    } else if (c === '[' || c === '{') {
      if (++depth > maxDepth) return true;
    } else if ((c === ']' || c === '}') && depth > 0) {
      depth--;
    }
    prev = i < text.length ? text[i] : '\n';
  }
  // Block collections: each deeper indentation opens a level; "- - x" opens one per dash.
  const indents: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^( *)((?:-(?: +|$))*)(\S)?/.exec(line);
    if (!m || (m[2] === '' && m[3] === undefined) || m[3] === '#') continue;
    const indent = m[1].length;
    while (indents.length > 0 && indents[indents.length - 1] > indent) indents.pop();
    if (indents.length === 0 || indents[indents.length - 1] < indent) indents.push(indent);
    const dashes = m[2] ? m[2].split('-').length - 1 : 0;
    if (indents.length + dashes > maxDepth) return true;
  }
  return false;
}
