// HEALTHCHECK of the kontena-ipam image (a slim image has no curl): GET /healthz on the health
// listener the plugin was started with (KONTENA_IPAM_HEALTH_LISTEN, default 127.0.0.1:2275).
// Exit 0 when it answers 200, 1 otherwise.
const listen = process.env.KONTENA_IPAM_HEALTH_LISTEN || '127.0.0.1:2275';
const colon = listen.lastIndexOf(':');
let host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
const port = listen.slice(colon + 1);
if (host === '' || host === '0.0.0.0') {
  host = '127.0.0.1';
} else if (host === '::') {
  host = '::1';
}
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  process.exitCode = res.status === 200 ? 0 : 1;
} catch (e) {
  process.stderr.write(`${url}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
