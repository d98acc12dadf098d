import type { RequestHandler } from '@nestjs/common/interfaces/index.js';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';

import { PluginHttpAdapter } from './nest-adapter.js';
import type { PluginServer } from './plugin-server.js';

const handler: RequestHandler = () => undefined;

function adapterWithFakeServer() {
  const route = vi.fn<PluginServer['route']>();
  const adapter = new PluginHttpAdapter({ route } as unknown as PluginServer);
  return { adapter, route };
}

describe('PluginHttpAdapter', () => {
  it("should put each POST route Nest registers into the server's route table", () => {
    const { adapter, route } = adapterWithFakeServer();
    adapter.post('/IpamDriver.RequestPool', handler);
    adapter.get('/IpamDriver.RequestPool', handler);
    expect(route).toHaveBeenCalledExactlyOnceWith('/IpamDriver.RequestPool', handler);
  });

  it('should set @HttpCode on a plain Node response', () => {
    const { adapter } = adapterWithFakeServer();
    const res = { statusCode: 201 } as ServerResponse;
    adapter.status(res, 200);
    expect(res.statusCode).toBe(200);
  });

  it('should reply with exactly application/json, without a charset', () => {
    const { adapter } = adapterWithFakeServer();
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    const end = vi.spyOn(res, 'end');
    adapter.reply(res, { PoolID: 'p' }, 200);
    expect(res.statusCode).toBe(200);
    expect(res.getHeader('content-type')).toBe('application/json');
    expect(end).toHaveBeenCalledWith('{"PoolID":"p"}');
  });
});
