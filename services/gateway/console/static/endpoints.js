// Endpoints & runtimes: every endpoint with its runtime, profile and
// online state (polled), and for admins the endpoint config override
// editor (PUT /v1/endpoints/{id}/config) and the runtime token actions
// (POST / DELETE /v1/runtimes/{id}/tokens).

import { api } from './api.js';
import { auth } from './auth.js';
import { h, notice, errorText, every } from './dom.js';

const POLL_MS = 3000;

export function endpointsView(root, ctx) {
  const table = h('tbody');
  const status = h('div');
  const admin = h('div');
  root.append(
    h('h1', null, 'Endpoints & runtimes'),
    status,
    h('div', { class: 'scroll' }, h('table', { id: 'endpoints' },
      h('thead', null, h('tr', null, ['Endpoint', 'Name', 'Profile', 'Runtime', 'State', ''].map((t) => h('th', null, t)))),
      table)),
    admin);
  let endpoints = [];
  const stop = every(POLL_MS, async () => {
    try {
      endpoints = await api.endpoints();
      status.replaceChildren();
    } catch (err) {
      status.replaceChildren(notice('Endpoints could not be read — ' + errorText(err), 'error'));
      return;
    }
    table.replaceChildren(...endpoints.map((ep) => row(ep, ctx)));
    if (!endpoints.length) table.append(h('tr', null, h('td', { colspan: 6 }, 'No endpoint has registered yet: start a runtime.')));
    if (auth.isAdmin && !admin.hasChildNodes()) admin.append(adminPanel(() => endpoints));
  });
  if (!auth.isAdmin) admin.append(notice('Sign in with an admin token to edit endpoint config and runtime tokens.'));
  return stop;
}

function row(ep, ctx) {
  return h('tr', { dataset: { endpoint: ep.id } },
    h('td', null, h('code', null, ep.id)),
    h('td', null, ep.name || ''),
    h('td', null, ep.profile || ''),
    h('td', null, h('code', null, ep.runtime_id)),
    h('td', null, h('span', { class: 'dot ' + (ep.online ? 'on' : 'off') }, ep.online ? 'online' : 'offline')),
    h('td', null, h('button', {
      type: 'button', disabled: !ep.online,
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          const s = await api.createSession(ep.id);
          ctx.navigate('#/sessions/' + s.id);
        } catch (err) {
          e.target.disabled = false;
          e.target.after(notice(errorText(err), 'error'));
        }
      },
    }, 'New session')));
}

function adminPanel(getEndpoints) {
  const epSelect = h('select', { id: 'cfg-endpoint' });
  const editor = h('textarea', { id: 'cfg-json', rows: 8, spellcheck: 'false' });
  const cfgMsg = h('div', { class: 'msg' });
  const fill = () => {
    const eps = getEndpoints();
    if (epSelect.options.length !== eps.length) {
      const keep = epSelect.value;
      epSelect.replaceChildren(...eps.map((ep) => h('option', { value: ep.id }, ep.id)));
      if (keep) epSelect.value = keep;
    }
    const ep = eps.find((x) => x.id === epSelect.value);
    if (ep && !editor.value) editor.value = JSON.stringify({ security: ep.security || {} }, null, 2);
  };
  epSelect.addEventListener('focus', fill);
  epSelect.addEventListener('change', () => { editor.value = ''; fill(); });
  fill();
  const cfgForm = h('form', { class: 'card', id: 'cfg-form' },
    h('h2', null, 'Endpoint config override'),
    h('p', { class: 'hint' }, 'A JSON object with "security" and/or "limits"; the runtime must acknowledge it.'),
    h('label', { for: 'cfg-endpoint' }, 'Endpoint'), epSelect,
    h('label', { for: 'cfg-json' }, 'Override'), editor,
    h('button', { type: 'submit' }, 'Apply'), cfgMsg);
  cfgForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    cfgMsg.replaceChildren();
    let body;
    try { body = JSON.parse(editor.value); } catch (err) {
      cfgMsg.append(notice('Not JSON: ' + err.message, 'error'));
      return;
    }
    try {
      await api.putConfig(epSelect.value, body);
      cfgMsg.append(notice(`Applied: ${epSelect.value} acknowledged the override.`));
    } catch (err) {
      cfgMsg.append(notice(errorText(err), 'error'));
    }
  });

  const rid = h('input', { id: 'tok-runtime', list: 'runtime-ids', autocomplete: 'off', spellcheck: 'false' });
  const list = h('datalist', { id: 'runtime-ids' });
  rid.addEventListener('focus', () => {
    const ids = [...new Set(getEndpoints().map((ep) => ep.runtime_id))];
    list.replaceChildren(...ids.map((id) => h('option', { value: id })));
  });
  const tokMsg = h('div', { class: 'msg' });
  const act = (fn) => async (e) => {
    e.preventDefault();
    tokMsg.replaceChildren();
    if (!rid.value.trim()) { tokMsg.append(notice('Name a runtime id.', 'error')); return; }
    try { await fn(rid.value.trim()); } catch (err) { tokMsg.append(notice(errorText(err), 'error')); }
  };
  const issue = act(async (id) => {
    const r = await api.issueToken(id);
    const out = h('input', { class: 'token', readonly: true, value: r.token, 'aria-label': 'New runtime token' });
    tokMsg.append(notice(`New token for ${r.runtime_id}, expires ${r.expires_at}. It is shown only once:`), out);
    out.select();
  });
  const revoke = act(async (id) => {
    if (!confirm(`Revoke every token of runtime ${id}? Its sockets are closed.`)) return;
    const r = await api.revokeTokens(id);
    tokMsg.append(notice(`Revoked ${r.runtime_id} at ${r.revoked_at}` + (r.disconnected ? '; its socket was closed.' : '.')));
  });
  const tokForm = h('form', { class: 'card', id: 'tok-form' },
    h('h2', null, 'Runtime tokens'),
    h('label', { for: 'tok-runtime' }, 'Runtime id'), rid, list,
    h('div', { class: 'row' },
      h('button', { type: 'submit' }, 'Issue token'),
      h('button', { type: 'button', class: 'danger', onclick: revoke }, 'Revoke tokens')),
    tokMsg);
  tokForm.addEventListener('submit', issue);
  return h('div', { class: 'grid2' }, cfgForm, tokForm);
}
