import { type ClientRequest, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { parseObject, readJsonBody, writeJson } from './json-wire.js';

describe('parseObject', () => {
  it.each([
    { name: 'empty', raw: '', parsed: {} },
    { name: 'only whitespace', raw: ' \n', parsed: {} },
    { name: 'object + newline (dockerd)', raw: '{"PoolID":"p"}\n', parsed: { PoolID: 'p' } },
    { name: 'nested', raw: '{"Options":{"a":"b"}}', parsed: { Options: { a: 'b' } } },
  ])('$name', ({ raw, parsed }) => {
    expect(parseObject(Buffer.from(raw))).toEqual(parsed);
  });

  it.each([
    {
      name: 'array',
      raw: '[1]',
      message: 'invalid request body: expected a JSON object, got an array',
    },
    {
      name: 'null',
      raw: 'null',
      message: 'invalid request body: expected a JSON object, got null',
    },
    {
      name: 'number',
      raw: '1',
      message: 'invalid request body: expected a JSON object, got a number',
    },
    { name: 'truncated', raw: '{"a":', message: /^invalid request body: / },
    { name: 'trailing garbage', raw: '{} x', message: /^invalid request body: / },
    {
      name: 'not UTF-8',
      raw: Buffer.from([0x7b, 0xff, 0x7d]),
      message: 'invalid request body: not valid UTF-8',
    },
    {
      name: 'nested too deep (would overflow the validators)',
      raw: `{"Options":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      message: 'invalid request body: nested deeper than 32 levels',
    },
  ])('$name -> 400 message', ({ raw, message }) => {
    const result = parseObject(typeof raw === 'string' ? Buffer.from(raw) : raw);
    expect(typeof result).toBe('string');
    expect(result).toMatch(message);
  });
});

function post(port: number, write: (req: ClientRequest) => void) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/x', agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    write(req);
  });
}

describe('readJsonBody', () => {
  let server: Server | undefined;

  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s !== undefined) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  /** A bare node:http server running only the reader, echoing the parsed body. */
  async function serve(timeoutMs: number): Promise<number> {
    server = createServer((req, res) => {
      readJsonBody(req, res, (body) => writeJson(res, 200, body), { timeoutMs, limit: 64 });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it('hands the parsed object on', async () => {
    const port = await serve(1000);
    expect(await post(port, (req) => req.end('{"a":"b"}\n'))).toEqual({
      status: 200,
      body: { a: 'b' },
    });
  });

  it('answers 408 when the body does not arrive in time', async () => {
    const port = await serve(50);
    const reply = await post(port, (req) => {
      req.setHeader('Content-Length', 10);
      req.write('{"a"');
    });
    expect(reply.status).toBe(408);
    expect(reply.body).toEqual({
      Err: 'request body not received within 0.05 s',
      Error: 'request body not received within 0.05 s',
    });
  });

  it('applies its limit', async () => {
    const port = await serve(1000);
    const reply = await post(port, (req) => req.end(`{"a":"${'x'.repeat(100)}"}`));
    expect(reply.status).toBe(413);
  });
});
