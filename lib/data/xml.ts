// A small strict XML reader: enough for annotation files such as Pascal VOC's (elements, attributes, text, comments,
// CDATA, the five predefined entities and character references, an optional XML declaration). No DTDs, no namespaces
// beyond keeping 'prefix:name' as the name. Anything not well-formed is an error that says what and where (line:col),
// so a caller can prefix the file name and give the user one line.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data (its text children concatenated, entities decoded). */
  text: string;
}

export class XmlSyntaxError extends Error {
  override name = 'XmlSyntaxError';
}

const NAME = /[A-Za-z_:][\w.:-]*/y;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Parses a whole document and returns its root element. Throws XmlSyntaxError with line:col on malformed input. */
export function parseXml(source: string): XmlElement {
  let pos = source.charCodeAt(0) === 0xfeff ? 1 : 0;

  const where = (at: number): string => {
    const before = source.slice(0, at);
    const line = before.split('\n').length;
    return `line ${line}:${at - before.lastIndexOf('\n')}`;
  };
  const fail = (msg: string, at = pos): never => {
    throw new XmlSyntaxError(`${msg} at ${where(at)}`);
  };
  const skipSpace = (): void => {
    while (pos < source.length && /\s/.test(source[pos]!)) pos++;
  };
  const expect = (s: string): void => {
    if (!source.startsWith(s, pos)) fail(`expected '${s}'`);
    pos += s.length;
  };
  const readName = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(source);
    if (!m) return fail('expected a name');
    pos += m[0].length;
    return m[0];
  };
  const decode = (raw: string, at: number): string => raw.replace(/&([^;&\s<]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) fail(`'&' not starting an entity reference`, at);
    if (ref in PREDEFINED) return PREDEFINED[ref]!;
    const num = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref);
    const code = num ? (num[1] !== undefined ? parseInt(num[1], 16) : parseInt(num[2]!, 10)) : NaN;
    if (!Number.isInteger(code) || code > 0x10ffff) return fail(`unknown entity '&${ref};'`, at);
    return String.fromCodePoint(code);
  });
  /** Skips comments and processing instructions (and, before the root, the XML declaration); true if it skipped one. */
  const skipMisc = (): boolean => {
    if (source.startsWith('<!--', pos)) {
      const end = source.indexOf('-->', pos + 4);
      if (end < 0) fail('unterminated comment');
      pos = end + 3;
      return true;
    }
    if (source.startsWith('<?', pos)) {
      const end = source.indexOf('?>', pos + 2);
      if (end < 0) fail('unterminated processing instruction');
      pos = end + 2;
      return true;
    }
    if (source.startsWith('<!DOCTYPE', pos)) fail('DTDs are not supported');
    return false;
  };

  const readElement = (): XmlElement => {
    const start = pos;
    expect('<');
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      const hadSpace = /\s/.test(source[pos] ?? '');
      skipSpace();
      if (source.startsWith('/>', pos)) {
        pos += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (source[pos] === '>') {
        pos++;
        break;
      }
      if (pos >= source.length) fail(`unterminated start tag <${name}>`, start);
      if (!hadSpace) fail(`expected whitespace, '>' or '/>' in <${name}>`);
      const attrAt = pos;
      const attr = readName();
      skipSpace();
      expect('=');
      skipSpace();
      const quote = source[pos];
      if (quote !== '"' && quote !== "'") fail(`attribute '${attr}' value must be quoted`);
      const end = source.indexOf(quote!, pos + 1);
      if (end < 0) fail(`unterminated value of attribute '${attr}'`);
      const raw = source.slice(pos + 1, end);
      if (raw.includes('<')) fail(`'<' in the value of attribute '${attr}'`, pos);
      if (attr in attributes) fail(`duplicate attribute '${attr}'`, attrAt);
      attributes[attr] = decode(raw, pos);
      pos = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (pos >= source.length) fail(`<${name}> is never closed`, start);
      if (source.startsWith('</', pos)) {
        pos += 2;
        const closeAt = pos;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}> (opened at ${where(start)})`, closeAt);
        skipSpace();
        expect('>');
        return { name, attributes, children, text };
      }
      if (source.startsWith('<![CDATA[', pos)) {
        const end = source.indexOf(']]>', pos + 9);
        if (end < 0) fail('unterminated CDATA section');
        text += source.slice(pos + 9, end);
        pos = end + 3;
      } else if (skipMisc()) {
        // comment or processing instruction inside content: ignored
      } else if (source[pos] === '<') {
        children.push(readElement());
      } else {
        const end = source.indexOf('<', pos);
        const stop = end < 0 ? source.length : end;
        text += decode(source.slice(pos, stop), pos);
        pos = stop;
      }
    }
  };

  for (;;) {
    skipSpace();
    if (!skipMisc()) break;
  }
  if (source[pos] !== '<') fail(pos >= source.length ? 'no root element' : 'text before the root element');
  const root = readElement();
  for (;;) {
    skipSpace();
    if (!skipMisc()) break;
  }
  if (pos < source.length) fail('content after the root element');
  return root;
}

/** The children of `el` named `name`. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
