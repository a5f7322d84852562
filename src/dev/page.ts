/**
 * The interop page `omniws serve` shows at `/`. It opens WebSockets to the same
 * origin, runs the checks, shows which HTTP version carried each WebSocket (the
 * server announces it), and sets the title to `interop: pass` or
 * `interop: fail (N)` once every check has run. Browser tests read
 * `window.interopResults`; opened with `?report`, the page also POSTs them to
 * `/interop-report` (for browsers driven without an automation protocol).
 */
export const INTEROP_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>interop: running</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; }
  table { border-collapse: collapse; }
  td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
  .pass { color: #070; } .fail { color: #b00; }
</style>
</head>
<body>
<h1>omniws interop</h1>
<p>Page loaded over <b id="page-proto">?</b> from <code id="origin"></code>.</p>
<table>
  <thead><tr><th>check</th><th>WebSocket over</th><th>result</th><th>round trip</th><th>detail</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<script>
const results = [];
window.interopResults = results;
const rows = document.getElementById('rows');
const nav = performance.getEntriesByType('navigation')[0];
document.getElementById('page-proto').textContent = (nav && nav.nextHopProtocol) || 'unknown';
document.getElementById('origin').textContent = location.origin;
const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;

function show(r) {
  const tr = document.createElement('tr');
  for (const v of [r.name, r.http, r.pass ? 'pass' : 'fail', r.ms === undefined ? '' : r.ms.toFixed(1) + ' ms', r.detail || '']) {
    const td = document.createElement('td');
    td.textContent = v;
    tr.appendChild(td);
  }
  tr.className = r.pass ? 'pass' : 'fail';
  rows.appendChild(tr);
}

// Opens /echo?announce (or another path with ?announce): the server first sends
// {"http":…} describing the session.
function open(protocols, path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsBase + (path || '/echo?announce'), protocols);
    ws.binaryType = 'arraybuffer';
    const queue = [];
    const waiters = [];
    let info = null;
    ws.onmessage = (e) => {
      if (info === null) {
        info = JSON.parse(e.data);
        resolve({ ws, info, next });
        return;
      }
      const w = waiters.shift();
      if (w) w(e.data); else queue.push(e.data);
    };
    ws.onerror = () => reject(new Error('WebSocket error'));
    ws.onclose = (e) => { if (info === null) reject(new Error('closed ' + e.code)); };
    function next() {
      return new Promise((res) => { const d = queue.shift(); if (d !== undefined) res(d); else waiters.push(res); });
    }
  });
}

async function check(name, fn) {
  const t0 = performance.now();
  let r;
  try {
    const out = await Promise.race([
      fn(),
      new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 15000)),
    ]);
    r = { name, pass: out.pass, http: out.http, ms: performance.now() - t0, detail: out.detail };
  } catch (err) {
    r = { name, pass: false, http: '?', detail: String(err && err.message || err) };
  }
  results.push(r);
  show(r);
}

function equalBytes(a, b) {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a), y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const wtBase = 'https://' + location.host;

async function readAll(readable) {
  const reader = readable.getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.byteLength;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.byteLength; }
  return out;
}

async function webTransportChecks() {
  let wt;
  await check('WebTransport bidirectional echo', async () => {
    wt = new WebTransport(wtBase + '/wt/echo');
    await wt.ready;
    const s = await wt.createBidirectionalStream();
    const w = s.writable.getWriter();
    const data = new TextEncoder().encode('hello over WebTransport');
    await w.write(data);
    await w.close();
    const back = await readAll(s.readable);
    return { pass: equalBytes(back, data), http: '3', detail: back.byteLength + ' bytes' };
  });
  await check('WebTransport unidirectional both ways', async () => {
    if (!wt) throw new Error('no session');
    const data = new Uint8Array(64 * 1024).map((_, i) => i & 255);
    const out = await wt.createUnidirectionalStream();
    const w = out.getWriter();
    await w.write(data);
    await w.close();
    const { value } = await wt.incomingUnidirectionalStreams.getReader().read();
    const back = await readAll(value);
    return { pass: equalBytes(back, data), http: '3', detail: back.byteLength + ' bytes back' };
  });
  await check('WebTransport datagram echo', async () => {
    if (!wt) throw new Error('no session');
    const w = wt.datagrams.writable.getWriter();
    const r = wt.datagrams.readable.getReader();
    const data = new TextEncoder().encode('datagram');
    // datagrams are unreliable: a few tries
    for (let i = 0; i < 5; i++) {
      await w.write(data);
      const got = await Promise.race([r.read(), new Promise((res) => setTimeout(() => res(null), 1000))]);
      if (got && got.value) return { pass: equalBytes(got.value, data), http: '3', detail: 'try ' + (i + 1) };
    }
    return { pass: false, http: '3', detail: 'no datagram came back' };
  });
  if (wt) wt.close({ closeCode: 0, reason: '' });
  // application protocols (WT-Available-Protocols / WT-Protocol), where the browser has them
  if ('protocol' in WebTransport.prototype) {
    await check('WebTransport application protocol', async () => {
      const s = new WebTransport(wtBase + '/wt/echo', { protocols: ['omniws-echo', 'other'] });
      await s.ready;
      const picked = s.protocol;
      s.close({ closeCode: 0, reason: '' });
      return { pass: picked === 'omniws-echo', http: '3', detail: 'protocol ' + JSON.stringify(picked) };
    });
  }
  await check('WebTransport close 4001 "bye" from the server', async () => {
    const s = new WebTransport(wtBase + '/wt/close?code=4001&reason=bye');
    await s.ready;
    const info = await s.closed;
    return { pass: info.closeCode === 4001 && info.reason === 'bye', http: '3', detail: 'code ' + info.closeCode + ' reason ' + info.reason };
  });
}

async function run() {
  await check('text echo', async () => {
    const c = await open(['echo']);
    const text = 'héllo ✓ ' + Math.random();
    c.ws.send(text);
    const back = await c.next();
    c.ws.close(1000);
    return { pass: back === text && c.ws.protocol === 'echo', http: c.info.http, detail: 'subprotocol ' + c.ws.protocol };
  });
  await check('binary echo', async () => {
    const c = await open();
    const data = new Uint8Array(256).map((_, i) => i).buffer;
    c.ws.send(data);
    const back = await c.next();
    c.ws.close(1000);
    return { pass: back instanceof ArrayBuffer && equalBytes(back, data), http: c.info.http };
  });
  await check('1 MB echo', async () => {
    const c = await open();
    const data = new Uint8Array(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    c.ws.send(data.buffer);
    const back = await c.next();
    c.ws.close(1000);
    return { pass: equalBytes(back, data.buffer), http: c.info.http, detail: back.byteLength + ' bytes' };
  });
  await check('close code 4000 echoed', async () => {
    const c = await open();
    const closed = new Promise((res) => { c.ws.onclose = res; });
    c.ws.close(4000, 'interop');
    const e = await closed;
    return { pass: e.code === 4000 && e.wasClean, http: c.info.http, detail: 'code ' + e.code + ' clean ' + e.wasClean };
  });
  await check('extensions', async () => {
    const c = await open();
    c.ws.close(1000);
    return { pass: true, http: c.info.http, detail: c.ws.extensions || '(none)' };
  });
  await check('pubsub across two WebSockets', async () => {
    // both join one room; each message goes to both, the sender included, in kind
    const path = '/pubsub/interop-' + Math.random().toString(36).slice(2) + '?announce';
    const a = await open(undefined, path);
    const b = await open(undefined, path);
    a.ws.send('from a');
    const [a1, b1] = await Promise.all([a.next(), b.next()]);
    const bytes = new Uint8Array([1, 2, 3, 250]).buffer;
    b.ws.send(bytes);
    const [a2, b2] = await Promise.all([a.next(), b.next()]);
    a.ws.close(1000);
    b.ws.close(1000);
    const pass = a1 === 'from a' && b1 === 'from a' &&
      a2 instanceof ArrayBuffer && equalBytes(a2, bytes) && b2 instanceof ArrayBuffer && equalBytes(b2, bytes);
    return { pass, http: a.info.http, detail: 'text and binary reached both members' };
  });
  // WebTransport over HTTP/3 (the same port, UDP), where the browser has it and the page
  // came over TLS; ?nowt leaves it out
  if (typeof WebTransport === 'function' && location.protocol === 'https:' &&
      !new URLSearchParams(location.search).has('nowt')) {
    await webTransportChecks();
  }
  const failed = results.filter((r) => !r.pass).length;
  document.title = failed === 0 ? 'interop: pass' : 'interop: fail (' + failed + ')';
  if (new URLSearchParams(location.search).has('report')) {
    const body = JSON.stringify({ title: document.title, userAgent: navigator.userAgent, results });
    fetch('/interop-report', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  }
}
run();
</script>
</body>
</html>
`;
