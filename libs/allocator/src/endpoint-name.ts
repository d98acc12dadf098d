/**
 * The longest endpoint name stored with an address, in characters. Docker sends the container's
 * name (`com.docker.network.endpoint.name`, Engine ≥ 29); a name is a label for people reading
 * the store, never a key, and what a request may make the plugin store must stay small: a few
 * names of 600 KB made a batched transaction too large for etcd.
 */
export const MAX_ENDPOINT_NAME = 255;

/** C0 and C1 control characters (a line break, an escape sequence). */
const CONTROL = /\p{Cc}/u;

/**
 * Why `name` is not stored with its address, or undefined when it is: over MAX_ENDPOINT_NAME
 * characters (Unicode code points), or with a control character, which would end a log line or
 * drive a terminal wherever the name is shown.
 */
export function unstorableEndpointName(name: string): string | undefined {
  // Units count a character outside the BMP twice: past the bound in units, count characters,
  // unless even that cannot bring it under.
  if (name.length > MAX_ENDPOINT_NAME) {
    const tooLong = name.length > 2 * MAX_ENDPOINT_NAME || characters(name) > MAX_ENDPOINT_NAME;
    if (tooLong) {
      return `it is longer than ${MAX_ENDPOINT_NAME} characters`;
    }
  }
  return CONTROL.test(name) ? 'it holds control characters' : undefined;
}

/** A name as a warning may show it: JSON-quoted (controls escaped) and cut after 40 characters. */
export function shownName(name: string): string {
  const head = name.slice(0, unitsOfFirst(name, 40));
  return `${JSON.stringify(head)}${head.length < name.length ? '…' : ''}`;
}

/** A UTF-16 unit that starts a surrogate pair: it and the next unit are one character. */
function startsPair(s: string, i: number): boolean {
  const unit = s.charCodeAt(i);
  return unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length;
}

/** Characters (code points) in `s`. */
function characters(s: string): number {
  let count = 0;
  for (let i = 0; i < s.length; i += startsPair(s, i) ? 2 : 1) {
    count++;
  }
  return count;
}

/** How many UTF-16 units the first `n` characters of `s` take. */
function unitsOfFirst(s: string, n: number): number {
  let i = 0;
  for (let k = 0; k < n && i < s.length; k++) {
    i += startsPair(s, i) ? 2 : 1;
  }
  return i;
}
