// PushSocket is one read-only /notification socket (document 000): frames
// {"Type":N,"Data":{…}} pushed by the hub, nothing sent back. It carries
// a token as ?token= (the admin token sees every event, a client token
// its user's and hub-wide ones) and optionally ?types=. Before each
// (re)connect it asks GET /notification: 404 means this hub has no push
// channels (state "unavailable", no retry until retry() is called); any
// other answer (400: not an upgrade) means the route is there. A dropped
// socket reconnects with the shared backoff of socket.js (0.5 s doubling to 30 s,
// half random; reset after 5 s open); close 1008 (token refused) stops.

import { probe } from './api.js';
import { ReconnectingSocket } from './socket.js';

export const PATH = '/notification';

// The document's NotificationType values.
export const TYPES = [
  { n: 1, name: 'Progress' },
  { n: 2, name: 'UserNotification' },
  { n: 4, name: 'AppNotification' },
  { n: 8, name: 'AppUpdateProgress' },
];

export function typeName(n) {
  const t = TYPES.find((x) => x.n === n);
  return t ? t.name : 'Type ' + n;
}

export class PushSocket extends ReconnectingSocket {
  // opts: token (required), types (array of numbers; empty: every type).
  constructor(opts) {
    super('view closed');
    this.token = opts.token;
    this.types = opts.types || [];
    this.received = 0;
  }

  // retry reconnects now (after "unavailable" or "auth_failed").
  retry() {
    this.stop();
    this.attempt = 0;
    this.start();
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let q = '?token=' + encodeURIComponent(this.token);
    if (this.types.length) q += '&types=' + this.types.join(',');
    return `${proto}//${location.host}${PATH}${q}`;
  }

  async connect() {
    this.setState(this.everOpen ? 'reconnecting' : 'connecting');
    let exists = true;
    try {
      exists = (await probe(PATH)).exists;
    } catch {
      exists = true; // the gateway is unreachable: retry with backoff
    }
    if (this.stopped) return;
    if (!exists) {
      this.setState('unavailable');
      return;
    }
    this.dial(this.url());
  }

  onFrame(data) {
    if (typeof data !== 'string') return;
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (!m || typeof m !== 'object' || typeof m.Type !== 'number') return;
    this.received++;
    const payload = m.Data && typeof m.Data === 'object' ? m.Data : {};
    this.dispatchEvent(new CustomEvent('event', { detail: { type: m.Type, data: payload, at: new Date() } }));
  }
}

// stateText is what a view shows for a socket state.
export function stateText(s) {
  switch (s.state) {
    case 'connecting': return 'connecting…';
    case 'open': return 'live';
    case 'reconnecting': return 'reconnecting…' + (s.closeInfo ? ` (closed ${s.closeInfo})` : '');
    case 'unavailable': return `not available on this hub yet (GET ${PATH} answered 404)`;
    case 'auth_failed': return 'token refused' + (s.closeInfo ? ` (closed ${s.closeInfo})` : '');
    default: return '';
  }
}
