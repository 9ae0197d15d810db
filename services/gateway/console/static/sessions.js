// Sessions: the caller's sessions, newest first, paged and filtered by
// endpoint and state in the browser (GET /v1/sessions answers the whole
// list; see docs/protocol-notes.md "Console"); create one on an endpoint
// (POST /v1/sessions); close one (session.close over /ws/client).

import { api } from './api.js';
import { h, notice, errorText, fmtTime, every } from './dom.js';

const PAGE = 20;
const POLL_MS = 5000;
const STATES = ['', 'active', 'creating', 'closed'];

export function sessionsView(root, ctx) {
  const q = new URLSearchParams(sessionStorage.getItem('switchyard.sessionFilter') || '');
  const epFilter = h('select', { id: 'filter-endpoint' }, h('option', { value: '' }, 'all endpoints'));
  const stFilter = h('select', { id: 'filter-state' }, STATES.map((s) => h('option', { value: s }, s || 'all states')));
  stFilter.value = q.get('state') || '';
  let page = 0;
  const createEp = h('select', { id: 'create-endpoint', required: true });
  const createMsg = h('div', { class: 'msg' });
  const create = h('form', { class: 'card inline', id: 'create-form' },
    h('label', { for: 'create-endpoint' }, 'New session on'), createEp,
    h('button', { type: 'submit' }, 'Create'), createMsg);
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    createMsg.replaceChildren();
    const btn = create.querySelector('button');
    btn.disabled = true;
    try {
      const s = await api.createSession(createEp.value);
      ctx.navigate('#/sessions/' + s.id);
    } catch (err) {
      createMsg.append(notice(errorText(err), 'error'));
    } finally {
      btn.disabled = false;
    }
  });
  const body = h('tbody');
  const status = h('div');
  const pager = h('div', { class: 'pager' });
  root.append(
    h('h1', null, 'Sessions'),
    create,
    h('div', { class: 'filters' },
      h('label', { for: 'filter-endpoint' }, 'Endpoint'), epFilter,
      h('label', { for: 'filter-state' }, 'State'), stFilter),
    status,
    h('div', { class: 'scroll' }, h('table', { id: 'sessions' },
      h('thead', null, h('tr', null, ['Created', 'Session', 'Endpoint', 'State', ''].map((t) => h('th', null, t)))),
      body)),
    pager);

  let sessions = [];
  let endpoints = [];
  const render = () => {
    sessionStorage.setItem('switchyard.sessionFilter', new URLSearchParams({ endpoint: epFilter.value, state: stFilter.value }).toString());
    const shown = sessions
      .filter((s) => (!epFilter.value || s.endpoint_id === epFilter.value) && (!stFilter.value || s.status === stFilter.value))
      .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    body.replaceChildren(...shown.slice(page * PAGE, page * PAGE + PAGE).map((s) => row(s, ctx, refresh)));
    if (!shown.length) body.append(h('tr', null, h('td', { colspan: 5 }, sessions.length ? 'No session matches.' : 'No sessions yet.')));
    pager.replaceChildren(
      h('button', { type: 'button', disabled: page === 0, onclick: () => { page--; render(); } }, '← Newer'),
      h('span', { id: 'page' }, ` page ${page + 1} of ${pages} (${shown.length}) `),
      h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => { page++; render(); } }, 'Older →'));
  };
  const fillSelects = () => {
    const ids = [...new Set([...endpoints.map((e) => e.id), ...sessions.map((s) => s.endpoint_id)])].sort();
    const keep = epFilter.value || q.get('endpoint') || '';
    epFilter.replaceChildren(h('option', { value: '' }, 'all endpoints'), ...ids.map((id) => h('option', { value: id }, id)));
    epFilter.value = ids.includes(keep) ? keep : '';
    const keepCreate = createEp.value;
    createEp.replaceChildren(...endpoints.map((e) => h('option', { value: e.id }, `${e.id}${e.online ? '' : ' (offline)'}`)));
    if (keepCreate) createEp.value = keepCreate;
  };
  async function refresh() {
    try {
      [sessions, endpoints] = await Promise.all([api.sessions(), api.endpoints()]);
      status.replaceChildren();
    } catch (err) {
      status.replaceChildren(notice('Sessions could not be read — ' + errorText(err), 'error'));
      return;
    }
    if (document.activeElement !== epFilter && document.activeElement !== createEp) fillSelects();
    render();
  }
  epFilter.addEventListener('change', () => { page = 0; render(); });
  stFilter.addEventListener('change', () => { page = 0; render(); });
  return every(POLL_MS, refresh);
}

function row(s, ctx, refresh) {
  const close = h('button', {
    type: 'button', class: 'danger', disabled: s.status === 'closed',
    onclick: async () => {
      if (!ctx.hub.send({ type: 'session.close', session_id: s.id, payload: { session_id: s.id, reason: 'user_requested' } })) {
        close.after(notice('Not connected to the hub; try again.', 'error'));
        return;
      }
      close.disabled = true;
      await waitClosed(s.id);
      refresh();
    },
  }, 'Close');
  return h('tr', { dataset: { session: s.id } },
    h('td', null, fmtTime(s.created_at)),
    h('td', null, h('a', { href: '#/sessions/' + s.id }, h('code', null, s.id))),
    h('td', null, s.endpoint_id),
    h('td', null, h('span', { class: 'state ' + s.status }, s.status), s.turn_active ? ' · turn running' : ''),
    h('td', null, close));
}

// waitClosed polls the session until the hub reports it closed (a close
// has no REST answer; at most a few seconds).
async function waitClosed(id) {
  for (let i = 0; i < 20; i++) {
    try {
      if ((await api.session(id)).status === 'closed') return;
    } catch { return; }
    await new Promise((r) => setTimeout(r, 250));
  }
}
