// A stand-in for the Docker Engine API on a unix socket, FOR THE BENCHMARK ONLY: it answers the
// calls a cleanup pass makes with a daemon that has no networks, so the pass frees every address
// it may and the figure measures the pass's etcd work, not Docker's.
import { createServer } from 'node:http';

/**
 * @param {string} socketPath
 * @returns {Promise<{ host: string, requests: () => string[], close: () => Promise<void> }>}
 */
export async function startFakeDocker(socketPath) {
  /** @type {string[]} */
  const seen = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://docker');
    const path = url.pathname.replace(/^\/v\d+\.\d+/, '');
    seen.push(`${req.method ?? '?'} ${path}`);
    req.resume();
    const json = (status, body) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
        'Api-Version': '1.41',
      });
      res.end(text);
    };
    if (path === '/_ping') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Api-Version': '1.41' });
      res.end('OK');
    } else if (path === '/version') {
      json(200, { Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux' });
    } else if (path === '/info') {
      json(200, { ID: 'bench', Name: 'bench', ServerVersion: '20.10.24' });
    } else if (path === '/networks' || path === '/containers/json') {
      json(200, []);
    } else if (path.startsWith('/networks/')) {
      json(404, { message: `network ${decodeURIComponent(path.slice(10))} not found` });
    } else {
      json(404, { message: 'page not found' });
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(undefined));
  });
  return {
    host: `unix://${socketPath}`,
    requests: () => [...seen],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
