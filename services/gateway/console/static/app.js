// Switchyard web console: sign-in, the navigation and a hash router
// (#/sessions, #/sessions/<id>, ...). Each view is a function that fills
// the main element and returns a cleanup (timers, subscriptions).

import { auth } from './auth.js';
import { api, call, ApiError } from './api.js';
import { h, notice, errorText } from './dom.js';
import { Hub } from './hub.js';
import { endpointsView } from './endpoints.js';
import { sessionsView } from './sessions.js';
import { sessionView } from './session.js';
import { clusterView } from './cluster.js';
import { devicesView } from './devices.js';
import { feedView } from './feed.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const conn = document.getElementById('conn');
const who = document.getElementById('who');
const signout = document.getElementById('signout');

const ctx = { hub: null, navigate: (hash) => { location.hash = hash; } };
let cleanup = () => {};

const stateText = {
  idle: '', connecting: 'connecting…', open: 'connected',
  reconnecting: 'reconnecting…', auth_failed: 'token refused',
};

function startHub() {
  ctx.hub = new Hub(auth.client);
  ctx.hub.addEventListener('state', (e) => {
    conn.dataset.state = e.detail;
    conn.textContent = stateText[e.detail] ?? e.detail;
    document.body.dataset.reconnects = String(ctx.hub.reconnects);
  });
  ctx.hub.start();
}

function signedInChrome() {
  nav.hidden = false;
  conn.hidden = false;
  signout.hidden = false;
  who.textContent = auth.isAdmin ? 'client + admin' : 'client';
}

function signInView(root) {
  nav.hidden = true;
  conn.hidden = true;
  signout.hidden = true;
  who.textContent = '';
  const client = h('input', { id: 'client-token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const admin = h('input', { id: 'admin-token', type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const msg = h('div', { class: 'msg' });
  const form = h('form', { class: 'card signin', id: 'signin' },
    h('h1', null, 'Sign in'),
    h('p', { class: 'hint' }, 'Tokens are kept for this tab only (sessionStorage) and sent only to this hub.'),
    h('label', { for: 'client-token' }, 'Client token'), client,
    h('label', { for: 'admin-token' }, 'Admin token (optional: endpoint config, runtime tokens, cluster, pairing, every event)'), admin,
    h('button', { type: 'submit' }, 'Sign in'), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.replaceChildren();
    try {
      await call('GET', '/v1/endpoints', { token: client.value.trim() });
    } catch (err) {
      msg.append(notice('Client token refused — ' + errorText(err), 'error'));
      return;
    }
    if (admin.value.trim()) {
      try {
        await call('GET', '/v1/cluster', { token: admin.value.trim() });
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          msg.append(notice('Admin token refused — ' + errorText(err), 'error'));
          return;
        }
      }
    }
    auth.save(client.value.trim(), admin.value.trim());
    startHub();
    route();
  });
  root.append(form);
  client.focus();
  return () => {};
}

const routes = [
  [/^#\/endpoints$/, (root) => endpointsView(root, ctx)],
  [/^#\/sessions$/, (root) => sessionsView(root, ctx)],
  [/^#\/sessions\/([A-Za-z0-9_-]{1,128})$/, (root, m) => sessionView(root, ctx, m[1])],
  [/^#\/cluster$/, (root) => clusterView(root, ctx)],
  [/^#\/devices$/, (root) => devicesView(root, ctx)],
  [/^#\/feed$/, (root) => feedView(root, ctx)],
];

function route() {
  cleanup();
  main.replaceChildren();
  if (!auth.signedIn) {
    cleanup = signInView(main);
    return;
  }
  signedInChrome();
  const hash = location.hash || '#/sessions';
  for (const a of nav.querySelectorAll('a')) {
    const here = hash === a.getAttribute('href') || hash.startsWith(a.getAttribute('href') + '/');
    if (here) {
      a.setAttribute('aria-current', 'page');
      a.scrollIntoView({ block: 'nearest', inline: 'nearest' }); // the nav scrolls on a phone
    } else a.removeAttribute('aria-current');
  }
  for (const [re, view] of routes) {
    const m = hash.match(re);
    if (m) {
      cleanup = view(main, m) || (() => {});
      return;
    }
  }
  main.append(notice('No such view: ' + hash, 'error'));
  cleanup = () => {};
}

signout.addEventListener('click', () => {
  auth.clear();
  if (ctx.hub) ctx.hub.stop();
  ctx.hub = null;
  location.hash = '';
  route();
});

window.addEventListener('hashchange', route);
if (auth.signedIn) startHub();
route();
// Exposed for tests and the curious: the hub socket and the REST client.
window.switchyard = { ctx, api };
