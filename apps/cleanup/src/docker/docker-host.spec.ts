import { describe, expect, it } from 'vitest';

import { dockerodeOptions } from './docker-host.js';

const unset = {
  socketPath: undefined,
  host: undefined,
  port: undefined,
  ca: undefined,
  cert: undefined,
  key: undefined,
};

describe('dockerodeOptions', () => {
  it.each([
    {
      host: 'unix:///var/run/docker.sock',
      expected: { ...unset, socketPath: '/var/run/docker.sock', protocol: 'http' },
    },
    {
      host: 'tcp://10.0.0.5:2375',
      expected: { ...unset, host: '10.0.0.5', port: '2375', protocol: 'http' },
    },
    {
      host: 'tcp://docker.local:2375/',
      expected: { ...unset, host: 'docker.local', port: '2375', protocol: 'http' },
    },
    {
      host: 'http://127.0.0.1:2375',
      expected: { ...unset, host: '127.0.0.1', port: '2375', protocol: 'http' },
    },
    {
      host: 'https://docker.example:2376',
      expected: { ...unset, host: 'docker.example', port: '2376', protocol: 'https' },
    },
    {
      host: 'tcp://[::1]:2375',
      expected: { ...unset, host: '::1', port: '2375', protocol: 'http' },
    },
  ])('$host', ({ host, expected }) => {
    expect(dockerodeOptions(host, 1234)).toEqual({ ...expected, timeout: 1234 });
  });

  it('sets every connection field, so that docker-modem cannot fill one from the environment', () => {
    const options = dockerodeOptions('unix:///run/docker.sock', 1000);
    for (const field of ['socketPath', 'host', 'port', 'ca', 'cert', 'key', 'protocol']) {
      expect(Object.keys(options)).toContain(field);
    }
  });
});
