// The page of `omniws conformance client`: opened in a browser, it runs every case as
// Autobahn's clients do (a WebSocket to /runCase?case=N&agent=A that echoes whatever it
// receives, in kind), asks for the reports, and shows the summary of each transport the
// server saw. `?agent=NAME` names the browser (default: guessed from the user agent);
// `?cases=FROM-TO` runs a range. When done, `window.conformance` holds
// { done: true, results } for automation.

import type { Case } from './cases.js';

const SCRIPT = `
const q = new URLSearchParams(location.search);
const ua = navigator.userAgent;
const agent = q.get('agent') || (/Firefox\\//.test(ua) ? 'firefox' : /Chrom/.test(ua) ? 'chromium' : 'browser');
const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
const status = document.getElementById('status');
const log = document.getElementById('log');
window.conformance = { done: false, results: null };

function once(path, onOpen) {
  return new Promise((resolve) => {
    let ws;
    try { ws = new WebSocket(base + path); } catch (e) { resolve({ error: String(e) }); return; }
    ws.binaryType = 'arraybuffer';
    const got = [];
    const guard = setTimeout(() => { try { ws.close(); } catch {} resolve({ timeout: true, got }); }, 120000);
    ws.onmessage = (e) => { got.push(e.data); onOpen && onOpen(ws, e); };
    ws.onclose = (e) => { clearTimeout(guard); resolve({ code: e.code, got }); };
    ws.onerror = () => {};
  });
}

async function main() {
  const count = Number((await once('/getCaseCount')).got[0] || 0);
  const [from, to] = (q.get('cases') || '1-' + count).split('-').map(Number);
  for (let i = from; i <= Math.min(to || count, count); i++) {
    status.textContent = 'case ' + i + ' of ' + count;
    // the client under test echoes every message, text as text and binary as binary
    await once('/runCase?case=' + i + '&agent=' + encodeURIComponent(agent), (ws, e) => {
      try { ws.send(e.data); } catch {}
    });
  }
  await once('/updateReports?agent=' + encodeURIComponent(agent));
  const all = await (await fetch('/results.json', { cache: 'no-store' })).json();
  const mine = Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(agent + '@')));
  for (const [k, r] of Object.entries(mine)) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = '/report/' + encodeURIComponent(k);
    a.textContent = k;
    li.append(a, ': ' + Object.entries(r.summary).map(([v, n]) => n + ' ' + v).join(', '));
    log.append(li);
  }
  status.textContent = 'done';
  window.conformance = { done: true, results: mine };
  document.title = 'conformance: done';
}
main().catch((e) => { status.textContent = 'error: ' + e; window.conformance = { done: true, error: String(e) }; });
`;

export function fuzzingPage(cases: readonly Case[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>omniws conformance: client</title>
<style>body{font:15px/1.4 system-ui,sans-serif;margin:2em}</style></head><body>
<h1>WebSocket conformance of this browser</h1>
<p>${cases.length} cases (Autobahn's numbering, groups 1–7, 9, 10, 12, 13), run by this page over
the HTTP version this origin uses. <a href="/report/">All reports</a>.</p>
<p id="status">starting…</p><ul id="log"></ul>
<script>${SCRIPT}</script></body></html>
`;
}
