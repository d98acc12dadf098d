import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IpamLogger } from '#app/logging';
import { MacCapability } from './mac-capability.js';

const dir = mkdtempSync(join(tmpdir(), 'mac-capability-'));
const logger = new IpamLogger('error', { out: () => undefined, err: () => undefined });

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('MacCapability', () => {
  it('should be off until answered, then stay on for the next process on the same socket', () => {
    const socket = join(dir, 'kontena-ipam.sock');
    const first = MacCapability.beside(socket, logger);
    expect(first.markerPath).toBe(join(dir, '.kontena-ipam.sock.mac'));
    expect(first.dockerSendsMacs).toBe(false);
    first.answered();
    expect(first.dockerSendsMacs).toBe(true);
    expect(statSync(first.markerPath).isFile()).toBe(true);
    // The plugin restarted while dockerd runs on: dockerd does not ask again.
    expect(MacCapability.beside(socket, logger).dockerSendsMacs).toBe(true);
    // Another socket (another driver name) is another dockerd's business.
    expect(MacCapability.beside(join(dir, 'other.sock'), logger).dockerSendsMacs).toBe(false);
    rmSync(first.markerPath);
    expect(MacCapability.beside(socket, logger).dockerSendsMacs).toBe(false);
  });

  it('should stay on in memory when the marker cannot be written', () => {
    const capability = MacCapability.beside(join(dir, 'missing', 'x.sock'), logger);
    capability.answered();
    expect(capability.dockerSendsMacs).toBe(true);
  });
});
