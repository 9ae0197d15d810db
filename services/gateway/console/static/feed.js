// Live feed: the /notification events (Progress, UserNotification,
// AppNotification, AppUpdateProgress) as they arrive, newest first, the
// last MAX kept. The filter is client-side (type checkboxes and a text
// search, kept for the tab), so unchecking a type hides its events
// without losing them; Pause holds the list still while events go on
// being collected.

import { auth } from './auth.js';
import { h, fmtBytes } from './dom.js';
import { PushSocket, TYPES, typeName, stateText } from './push.js';

export const MAX = 500;
const FILTER_KEY = 'switchyard.feedFilter';

function loadFilter() {
  try {
    const f = JSON.parse(sessionStorage.getItem(FILTER_KEY) || 'null');
    if (f && Array.isArray(f.types)) return { types: new Set(f.types), text: String(f.text || '') };
  } catch { /* a bad value is replaced */ }
  return { types: new Set(TYPES.map((t) => t.n)), text: '' };
}

function saveFilter(f) {
  sessionStorage.setItem(FILTER_KEY, JSON.stringify({ types: [...f.types], text: f.text }));
}

export function feedView(root) {
  const filter = loadFilter();
  const events = []; // newest first, at most MAX
  const counts = {};
  let paused = false;
  let held = 0;

  const status = h('p', { id: 'feed-state', class: 'notice', role: 'status', 'aria-live': 'polite' }, '…');
  const list = h('ol', { id: 'feed-list', class: 'feed', 'aria-label': 'Events, newest first' });
  const shown = h('span', { id: 'feed-shown', class: 'hint' });
  const countEls = {};
  const boxes = TYPES.map((t) => {
    countEls[t.n] = h('span', { class: 'count', dataset: { type: t.n } }, '0');
    const box = h('input', { type: 'checkbox', id: 'feed-type-' + t.n, value: String(t.n), checked: filter.types.has(t.n) });
    box.addEventListener('change', () => {
      if (box.checked) filter.types.add(t.n); else filter.types.delete(t.n);
      saveFilter(filter);
      render();
    });
    return h('label', { class: 'check', for: 'feed-type-' + t.n }, box, ' ', t.name, ' ', countEls[t.n]);
  });
  const search = h('input', { id: 'feed-search', type: 'search', placeholder: 'filter text', value: filter.text, 'aria-label': 'Filter events by text', spellcheck: 'false' });
  search.addEventListener('input', () => { filter.text = search.value; saveFilter(filter); render(); });
  const pause = h('button', { type: 'button', id: 'feed-pause', 'aria-pressed': 'false' }, 'Pause');
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) { held = 0; render(); } else showCount();
  });
  const clear = h('button', { type: 'button', id: 'feed-clear' }, 'Clear');
  clear.addEventListener('click', () => { events.length = 0; held = 0; render(); });
  const retry = h('button', { type: 'button', id: 'feed-retry', hidden: true }, 'Try again');

  const who = auth.isAdmin ? 'as admin: every event on the hub' : 'with your client token: your events and hub-wide ones';
  root.append(
    h('h1', null, 'Live feed'),
    h('p', { class: 'hint' }, `Events pushed on /notification ${who}. Live only: nothing from before this page opened.`),
    h('div', { class: 'row' }, status, retry),
    h('fieldset', { class: 'filters', id: 'feed-filters' }, h('legend', null, 'Show'), boxes, search, pause, clear, shown),
    list);

  const sock = new PushSocket({ token: auth.isAdmin ? auth.admin : auth.client });
  sock.addEventListener('state', () => {
    status.textContent = stateText(sock);
    status.dataset.state = sock.state;
    status.classList.toggle('error', sock.state === 'auth_failed');
    retry.hidden = !(sock.state === 'unavailable' || sock.state === 'auth_failed');
    document.body.dataset.feedReconnects = String(sock.reconnects);
  });
  retry.addEventListener('click', () => sock.retry());
  sock.addEventListener('event', (e) => {
    const ev = e.detail;
    ev.text = `${typeName(ev.type)} ${describe(ev.type, ev.data)} ${JSON.stringify(ev.data)}`.toLowerCase();
    counts[ev.type] = (counts[ev.type] || 0) + 1;
    if (countEls[ev.type]) countEls[ev.type].textContent = String(counts[ev.type]);
    events.unshift(ev);
    if (events.length > MAX) events.length = MAX;
    if (paused) { held++; showCount(); return; }
    if (!visible(ev)) { showCount(); return; }
    list.prepend(item(ev));
    while (list.childElementCount > MAX) list.lastElementChild.remove();
    showCount();
  });
  sock.start();

  function visible(ev) {
    if (!filter.types.has(ev.type) && TYPES.some((t) => t.n === ev.type)) return false;
    if (!filter.text) return true;
    return ev.text.includes(filter.text.toLowerCase());
  }

  function render() {
    list.replaceChildren(...events.filter(visible).map(item));
    showCount();
  }

  function showCount() {
    shown.textContent = `${list.childElementCount} shown of ${events.length} kept (last ${MAX})` + (held ? ` · ${held} new while paused` : '');
  }

  showCount();
  return () => sock.stop();
}

// describe is a one-line summary of an event's Data, by Type.
export function describe(type, d) {
  switch (type) {
    case 1: {
      const pct = d.Size > 0 ? ` (${Math.floor((100 * d.Bytes) / d.Size)}%)` : '';
      const err = d.Error ? ` — ${d.Error}` : '';
      return `${d.TransferMode || '?'} ${d.Status || ''} ${d.Name || d.Path || ''} · ${fmtBytes(d.Bytes)} of ${fmtBytes(d.Size)}${pct}${err}`;
    }
    case 2: {
      const parts = [d.Category ? `[${d.Category}]` : '', d.Title || '', d.Title && d.Message ? '—' : '', d.Message || ''];
      const text = parts.filter(Boolean).join(' ');
      return text || JSON.stringify(d);
    }
    case 4: {
      const call = `${d.HttpMethod || ''} ${d.EndpointAddress || ''}`;
      return call + (d.Operation && d.Operation !== call ? ` · ${d.Operation}` : '') + (d.Origin ? ` · origin ${d.Origin}` : '');
    }
    default:
      return JSON.stringify(d).slice(0, 300);
  }
}

function item(ev) {
  const t = ev.at.toLocaleTimeString(undefined, { hour12: false });
  return h('li', { class: 'ev t' + ev.type, dataset: { type: ev.type } },
    h('div', { class: 'ev-head' },
      h('time', { datetime: ev.at.toISOString() }, t),
      h('span', { class: 'tag t' + ev.type }, typeName(ev.type)),
      h('span', { class: 'ev-text' }, describe(ev.type, ev.data))),
    h('details', null, h('summary', null, 'Data'), h('pre', { class: 'raw' }, JSON.stringify(ev.data, null, 2))));
}
