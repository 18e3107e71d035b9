/**
 * Bounded text for messages about untrusted input. Keys, names and decoded values come from files an attacker may
 * have written: a key can be megabytes long, and a pickle can share one tuple 2^60 times through its memo, so
 * `String()` or `JSON.stringify` of it never ends. Messages therefore echo at most a fixed number of characters,
 * and describe structures by type, size and their first few items to a fixed depth.
 */

/** Characters of a key or name echoed in a message before it is cut. */
export const MAX_ECHOED_CHARS = 120;

/** Dimensions of a shape shown in a message (a forged shape can have millions). */
const SHOWN_DIMS = 8;

/** A shape as `[2,3,4]`, cut after 8 dimensions with the count: `[1,1,1,1,1,1,1,1,... (1000000 dims)]`. */
export function formatShape(shape: readonly number[]): string {
  if (shape.length <= SHOWN_DIMS) return `[${shape.join(',')}]`;
  return `[${shape.slice(0, SHOWN_DIMS).join(',')},... (${shape.length} dims)]`;
}

/** Characters of a whole value summary ({@link describeValue}). */
const MAX_SUMMARY_CHARS = 200;
/** Items shown per container, and container levels opened, in a summary. */
const SUMMARY_ITEMS = 3;
const SUMMARY_DEPTH = 2;

/** `text` itself when short, else its first `maxChars` characters, an ellipsis and the full length. */
export function truncateText(text: string, maxChars = MAX_ECHOED_CHARS): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}… (${text.length} chars)`;
}

/**
 * Untrusted text made safe to print on a terminal: control characters (C0, DEL, C1: ESC sequences can retitle a
 * window, hide lines or move the cursor) become U+FFFD, and the result is cut like {@link truncateText}.
 */
export function printableText(text: string, maxChars = MAX_ECHOED_CHARS): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return truncateText(text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd'), maxChars);
}

function summarize(value: unknown, depth: number): string {
  if (value === null || value === undefined) return String(value);
  switch (typeof value) {
    case 'string':
      return JSON.stringify(truncateText(value, 40));
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return truncateText(`${value}n`, 40);
    case 'function':
      return 'a function';
  }
  // ` (a, b, c, ...)`: the first items, within the given brackets, while depth remains.
  const items = (all: Iterable<unknown>, size: number, brackets: string, show: (item: unknown) => string) => {
    if (depth <= 0 || size === 0) return '';
    const shown: string[] = [];
    for (const item of all) {
      if (shown.length === SUMMARY_ITEMS) break;
      shown.push(show(item));
    }
    return ` ${brackets[0]}${shown.join(', ')}${size > SUMMARY_ITEMS ? ', ...' : ''}${brackets[1]}`;
  };
  const count = (n: number) => `${n} item${n === 1 ? '' : 's'}`;
  if (Array.isArray(value)) {
    // The pickle reader decodes tuples as frozen arrays and lists as plain ones.
    const [kind, brackets] = Object.isFrozen(value) ? ['tuple', '()'] : ['list', '[]'];
    const shown = items(value, value.length, brackets, (v) => summarize(v, depth - 1));
    return `${kind} of ${count(value.length)}${shown}`;
  }
  if (value instanceof Map) {
    const pair = (entry: unknown) => {
      const [k, v] = entry as [unknown, unknown];
      return `${summarize(k, depth - 1)}: ${summarize(v, depth - 1)}`;
    };
    return `dict of ${count(value.size)}${items(value, value.size, '{}', pair)}`;
  }
  if (value instanceof Set) {
    return `set of ${count(value.size)}${items(value, value.size, '{}', (v) => summarize(v, depth - 1))}`;
  }
  if (ArrayBuffer.isView(value)) return `${value.byteLength} bytes`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== 'Object' ? `a ${truncateText(name, 40)} object` : 'an object';
}

/**
 * A one-line description of an untrusted value for an error message: scalars as themselves (long strings cut),
 * containers as type, size and first items, at most 200 characters, whatever the value's size or sharing.
 */
export function describeValue(value: unknown): string {
  return truncateText(summarize(value, SUMMARY_DEPTH), MAX_SUMMARY_CHARS);
}
