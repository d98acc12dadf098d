import { describe, expect, it } from 'vitest';

import { parseShow } from './show.command.js';

describe('parseShow', () => {
  it.each([
    { args: [], expected: { kind: 'plan', json: false } },
    { args: ['--json'], expected: { kind: 'plan', json: true } },
    { args: ['blue'], expected: { kind: 'pool', pool: 'blue', json: false } },
    {
      args: ['blue', '--node', 'node-1', '--json'],
      expected: { kind: 'pool', pool: 'blue', node: 'node-1', json: true },
    },
    {
      args: ['--node=node-1', 'blue'],
      expected: { kind: 'pool', pool: 'blue', node: 'node-1', json: false },
    },
  ])('$args', ({ args, expected }) => {
    expect(parseShow(args)).toEqual(expected);
  });

  it('--ip should parse the address', () => {
    const request = parseShow(['--ip', '10.80.0.5', '--json']);
    expect(typeof request === 'object' && request.kind === 'ip' && request.ip.toString()).toBe(
      '10.80.0.5',
    );
  });

  it.each([
    { args: ['--bogus'], message: /--bogus/ },
    { args: ['blue', 'green'], message: /unexpected argument: green/ },
    { args: ['--node', 'node-1'], message: /--node needs a POOL/ },
    { args: ['blue/x'], message: /"blue\/x" is not a pool name/ },
    { args: ['blue', '--node', 'a b'], message: /--node "a b" is not a NODE_ID/ },
    { args: ['--ip', '10.80.0.300'], message: /--ip "10.80.0.300" is not an IP address/ },
    { args: ['--ip', '10.80.0.5', 'blue'], message: /--ip combines only with --json/ },
    { args: ['--ip'], message: /--ip/ },
    { args: ['--node='], message: /--node needs a value/ },
  ])('should refuse $args', ({ args, message }) => {
    const result = parseShow(args);
    expect(typeof result).toBe('string');
    expect(result).toMatch(message);
  });
});
