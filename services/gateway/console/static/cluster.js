// Cluster: the gateway pods alive (ownership records, GET /v1/cluster,
// admin) with their sockets per dialect, and a few live rates of the pod
// serving this page, computed from two samples of its /metrics.

import { api, ApiError } from './api.js';
import { auth } from './auth.js';
import { h, notice, errorText, every } from './dom.js';
import { parse, byLabel, rates } from './metrics.js';

const POLL_MS = 2000;

export function clusterView(root) {
  const pods = h('div', { id: 'pods' });
  const rateBox = h('div', { id: 'rates' });
  root.append(h('h1', null, 'Cluster'),
    h('section', null, h('h2', null, 'Gateway pods'), pods),
    h('section', null, h('h2', null, 'This pod, live'), rateBox));
  let prev = null;
  const stops = [];
  if (auth.isAdmin) {
    stops.push(every(POLL_MS, async () => {
      try {
        pods.replaceChildren(podTable(await api.cluster()));
      } catch (err) {
        pods.replaceChildren(err instanceof ApiError && err.status === 404
          ? notice('The pod list is not available on this hub yet (GET /v1/cluster answered 404).')
          : notice('Pods could not be read — ' + errorText(err), 'error'));
      }
    }));
  } else {
    pods.append(notice('Sign in with an admin token to see the pods and their sockets.'));
  }
  stops.push(every(POLL_MS, async () => {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (!res.ok) {
      rateBox.replaceChildren(notice(`/metrics answered ${res.status}`, 'error'));
      return;
    }
    const sample = { at: performance.now(), s: parse(await res.text()) };
    if (prev) rateBox.replaceChildren(rateTable(prev, sample));
    else rateBox.replaceChildren(notice('sampling…'));
    prev = sample;
  }));
  return () => stops.forEach((s) => s());
}

function podTable(c) {
  const dialects = [...new Set(c.pods.flatMap((p) => Object.keys(p.dialects)))].sort();
  const totals = {};
  for (const p of c.pods) for (const [d, n] of Object.entries(p.dialects)) totals[d] = (totals[d] || 0) + n;
  const head = h('tr', null, h('th', null, 'Pod'), h('th', { class: 'num' }, 'Sockets'), dialects.map((d) => h('th', { class: 'num' }, d)));
  const rows = c.pods.map((p) => h('tr', { dataset: { pod: p.pod } },
    h('td', null, h('code', null, p.pod), p.pod === c.pod ? ' (serving this page)' : ''),
    h('td', { class: 'num' }, p.sockets),
    dialects.map((d) => h('td', { class: 'num' }, p.dialects[d] || 0))));
  const total = h('tr', { class: 'total' }, h('td', null, `${c.pods.length} pod(s)`),
    h('td', { class: 'num' }, c.pods.reduce((a, p) => a + p.sockets, 0)),
    dialects.map((d) => h('td', { class: 'num' }, totals[d] || 0)));
  return h('div', { class: 'scroll' }, h('table', { id: 'pod-table' }, h('thead', null, head), h('tbody', null, rows, total)));
}

function rateTable(a, b) {
  const secs = Math.max(0.001, (b.at - a.at) / 1000);
  const series = [
    ['frames in /s', 'switchyard_gateway_frames_in_total', 'dialect', true],
    ['frames out /s', 'switchyard_gateway_frames_out_total', 'dialect', true],
    ['error frames /s', 'switchyard_gateway_error_frames_total', 'code', true],
    ['slow-consumer drops /s', 'switchyard_gateway_slow_consumer_drops_total', 'dialect', true],
    ['open sockets', 'switchyard_gateway_connections', 'dialect', false],
    ['followed sessions', 'switchyard_gateway_followed_sessions', '', false],
    ['send queue bytes', 'switchyard_gateway_send_queue_bytes', '', false],
  ];
  const rows = [];
  for (const [title, name, label, counter] of series) {
    const now = byLabel(b.s, name, label);
    const vals = counter ? rates(byLabel(a.s, name, label), now, secs) : now;
    const keys = Object.keys(vals).sort();
    const text = keys.length ? keys.map((k) => `${k ? k + ' ' : ''}${fmt(vals[k])}`).join(' · ') : '—';
    rows.push(h('tr', { dataset: { metric: name } }, h('th', { scope: 'row' }, title), h('td', null, text)));
  }
  return h('table', { class: 'kv' }, h('tbody', null, rows));
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
