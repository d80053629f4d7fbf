/**
 * Edits a JSON object's members in its bytes: a changed member's value is replaced, a removed
 * member is cut out with its comma, a new one is appended before the closing brace, and every
 * other byte stays as the client wrote it. A provider that takes the client's API natively gets the
 * client's body apart from what the router must change (the model id, its own fields, a usage
 * report), and a large body costs one scan instead of a parse-and-serialise.
 *
 * The bytes must be a JSON object JSON.parse accepted (the request phase parsed them). Names are
 * compared as JSON.parse reads them (an escaped spelling is the same name), and an edit applies to
 * every occurrence of a repeated name — a provider that keeps the first of two `model` members gets
 * the router's value as surely as one that keeps the last.
 */

/** What to change in one object. */
export interface MemberEdits {
  /** Members given a value: JSON text, or edits of the member's own object. */
  readonly set?: Readonly<Record<string, string | MemberEdits>>;
  readonly remove?: readonly string[];
  /** This object, a member of its parent, is removed when the edits leave it empty. */
  readonly dropWhenEmpty?: boolean;
}

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
export const COLON = 0x3a;

/** JSON's whitespace. */
export const isBlank = (b: number | undefined) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** The quote closing the string opened at `open` (not one an odd run of backslashes escapes). */
export function stringEnd(bytes: Buffer, open: number): number {
  let i = open;
  for (;;) {
    i = bytes.indexOf(QUOTE, i + 1);
    if (i === -1) return -1;
    let backslashes = 0;
    while (bytes[i - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return i;
  }
}

function skipBlank(bytes: Buffer, at: number): number {
  while (isBlank(bytes[at])) at++;
  return at;
}

/** The index just past the value starting at `at`. */
function valueEnd(bytes: Buffer, at: number): number {
  const first = bytes[at];
  if (first === QUOTE) return stringEnd(bytes, at) + 1;
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    while (at < bytes.length && bytes[at] !== COMMA && bytes[at] !== CLOSE_BRACE && bytes[at] !== CLOSE_BRACKET && !isBlank(bytes[at])) at++;
    return at;
  }
  let depth = 0;
  for (; at < bytes.length; at++) {
    const b = bytes[at];
    if (b === QUOTE) at = stringEnd(bytes, at);
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
    else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && --depth === 0) return at + 1;
  }
  return at;
}

interface Member {
  readonly name: string;
  /** The name's opening quote. */
  readonly start: number;
  readonly valueStart: number;
  /** Just past the value. */
  readonly end: number;
}

/** The members of the object whose `{` is at `open`, and the index of its `}`. */
function membersOf(bytes: Buffer, open: number): { members: Member[]; close: number } {
  const members: Member[] = [];
  let at = skipBlank(bytes, open + 1);
  while (bytes[at] === QUOTE) {
    const nameEnd = stringEnd(bytes, at);
    const raw = bytes.toString('utf8', at + 1, nameEnd);
    const name = raw.includes('\\') ? (JSON.parse(bytes.toString('utf8', at, nameEnd + 1)) as string) : raw;
    const colon = skipBlank(bytes, nameEnd + 1);
    const valueStart = skipBlank(bytes, colon + (bytes[colon] === COLON ? 1 : 0));
    const end = valueEnd(bytes, valueStart);
    members.push({ name, start: at, valueStart, end });
    at = skipBlank(bytes, end);
    if (bytes[at] === COMMA) at = skipBlank(bytes, at + 1);
  }
  return { members, close: at };
}

/** Pieces of the output, in order: slices of the input and new text. */
type Pieces = Array<Buffer | string>;

/** The result of editing one object: its pieces, whether anything changed, whether it is left empty. */
interface Edited {
  readonly pieces: Pieces;
  /** The index of its `}`. */
  readonly close: number;
  readonly changed: boolean;
  readonly empty: boolean;
}

/** New text for a member the object lacks (or whose value is not an object), or null: nothing to add. */
function created(value: string | MemberEdits): string | null {
  if (typeof value === 'string') return value;
  const set = value.set ?? {};
  const parts: string[] = [];
  for (const name in set) {
    const inner = created(set[name]!);
    if (inner !== null) parts.push(`${JSON.stringify(name)}:${inner}`);
  }
  return parts.length === 0 ? null : `{${parts.join(',')}}`;
}

function editObject(bytes: Buffer, open: number, edits: MemberEdits): Edited {
  const { members, close } = membersOf(bytes, open);
  const set = edits.set ?? {};
  const remove = edits.remove ?? [];
  const seen = new Set<string>();
  let changed = false;
  // Each kept member as pieces (its value possibly replaced); removed members are null.
  const kept: Array<Pieces | null> = members.map((m) => {
    if (remove.includes(m.name)) return null;
    const value = set[m.name];
    if (value === undefined) return [bytes.subarray(m.start, m.end)];
    seen.add(m.name);
    const head = bytes.subarray(m.start, m.valueStart);
    if (typeof value === 'string') {
      if (bytes.toString('utf8', m.valueStart, m.end) === value) return [bytes.subarray(m.start, m.end)];
      changed = true;
      return [head, value];
    }
    if (bytes[m.valueStart] !== OPEN_BRACE) {
      const text = created(value);
      if (text === null) return [bytes.subarray(m.start, m.end)];
      changed = true;
      return [head, text];
    }
    const inner = editObject(bytes, m.valueStart, value);
    if (!inner.changed) return [bytes.subarray(m.start, m.end)];
    changed = true;
    return inner.empty && value.dropWhenEmpty === true ? null : [head, ...inner.pieces];
  });
  if (kept.some((k) => k === null)) changed = true;

  const pieces: Pieces = [bytes.subarray(open, members[0]?.start ?? close)];
  let last = -1;
  for (let i = 0; i < members.length; i++) {
    const member = kept[i] as Pieces | null;
    if (member === null) continue;
    // The separator that followed the previous kept member.
    if (last >= 0) pieces.push(bytes.subarray(members[last]!.end, members[last + 1]!.start));
    pieces.push(...member);
    last = i;
  }
  let count = last >= 0 ? 1 : 0;
  for (const name in set) {
    if (seen.has(name)) continue;
    const text = created(set[name]!);
    if (text === null) continue;
    changed = true;
    pieces.push(`${count > 0 ? ',' : ''}${JSON.stringify(name)}:${text}`);
    count++;
  }
  // The blank before the brace, which follows the last member whether kept or not.
  pieces.push(bytes.subarray(members.at(-1)?.end ?? close, close + 1));
  return { pieces, close, changed, empty: count === 0 };
}

/** `bytes` (a JSON object) with `edits` made, or null when they change nothing. */
export function spliced(bytes: Buffer, edits: MemberEdits): Buffer | null {
  const open = skipBlank(bytes, 0);
  const edited = editObject(bytes, open, edits);
  if (!edited.changed) return null;
  const pieces = edited.pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
  return Buffer.concat([bytes.subarray(0, open), ...pieces, bytes.subarray(edited.close + 1)]);
}
