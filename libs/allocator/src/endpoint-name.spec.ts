import { describe, expect, it } from 'vitest';
import { MAX_ENDPOINT_NAME, shownName, unstorableEndpointName } from './endpoint-name.js';

describe('unstorableEndpointName', () => {
  it.each([
    { name: 'empty', value: '', why: undefined },
    { name: 'exactly the bound', value: 'a'.repeat(MAX_ENDPOINT_NAME), why: undefined },
    {
      name: 'one over the bound',
      value: 'a'.repeat(MAX_ENDPOINT_NAME + 1),
      why: 'it is longer than 255 characters',
    },
    {
      name: 'the bound in characters outside the BMP (two UTF-16 units each)',
      value: '😀'.repeat(MAX_ENDPOINT_NAME),
      why: undefined,
    },
    {
      name: 'one over the bound outside the BMP',
      value: '😀'.repeat(MAX_ENDPOINT_NAME + 1),
      why: 'it is longer than 255 characters',
    },
    { name: '600 KB', value: 'x'.repeat(600_000), why: 'it is longer than 255 characters' },
    { name: 'a line feed', value: 'web\nforged', why: 'it holds control characters' },
    { name: 'a carriage return', value: 'web\r', why: 'it holds control characters' },
    { name: 'an escape sequence', value: 'web\u001b[2J', why: 'it holds control characters' },
    { name: 'DEL', value: 'web\u007f', why: 'it holds control characters' },
    { name: 'a C1 control', value: 'web\u0085', why: 'it holds control characters' },
    { name: 'a container name', value: 'my_app-web.1', why: undefined },
    { name: 'non-ASCII letters', value: 'café-ünïcødé', why: undefined },
  ])('$name: $why', ({ value, why }) => {
    expect(unstorableEndpointName(value)).toBe(why);
  });
});

describe('shownName', () => {
  it.each([
    { name: 'a short name as it is, quoted', value: 'web-1', shown: '"web-1"' },
    { name: 'controls escaped', value: 'a\nb\u001b', shown: '"a\\nb\\u001b"' },
    { name: 'a long name cut after 40', value: 'x'.repeat(600_000), shown: `"${'x'.repeat(40)}"…` },
    { name: 'exactly 40 uncut', value: 'y'.repeat(40), shown: `"${'y'.repeat(40)}"` },
    {
      name: 'characters outside the BMP never cut in half',
      value: '😀'.repeat(50),
      shown: `"${'😀'.repeat(40)}"…`,
    },
  ])('$name', ({ value, shown }) => {
    expect(shownName(value)).toBe(shown);
  });
});
