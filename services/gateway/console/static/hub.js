// Hub is the console's one /ws/client socket. It follows sessions
// (client.subscribe), remembers the last seq seen of each, and after the
// socket drops (a gateway died or drained: close 1001) reconnects with
// exponential backoff and subscribes again with after_seq = that seq, so
// the transcript has no duplicate and no missing entry. Entries are
// handed out in seq order, each once (a seq at or below the last one seen
// is dropped).

import { ReconnectingSocket } from './socket.js';

export class Hub extends ReconnectingSocket {
  constructor(token) {
    super('signed out');
    this.token = token;
    this.follows = new Map(); // session id -> {lastSeq, handler, replayed}
    this.duplicates = 0; // entries dropped as already seen
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/ws/client?token=${encodeURIComponent(this.token)}`;
  }

  connect() {
    this.setState(this.everOpen ? 'reconnecting' : 'connecting');
    this.dial(this.url());
  }

  // opened subscribes again to every followed session, after its last seq.
  opened() {
    for (const sid of this.follows.keys()) this.subscribe(sid);
  }

  // follow subscribes to a session; handler gets every transcript entry
  // once, in seq order, plus frames about the session without seq
  // (errors) and {type:"_replayed"} once a replay is complete.
  follow(sid, handler) {
    this.follows.set(sid, { lastSeq: 0, handler });
    if (this.connected) this.subscribe(sid);
    return () => this.unfollow(sid);
  }

  unfollow(sid) {
    if (!this.follows.delete(sid)) return;
    this.send({ type: 'client.unsubscribe', payload: { session_id: sid } });
  }

  lastSeq(sid) {
    const f = this.follows.get(sid);
    return f ? f.lastSeq : 0;
  }

  subscribe(sid) {
    const f = this.follows.get(sid);
    this.send({ type: 'client.subscribe', payload: { session_id: sid, after_seq: f.lastSeq } });
  }

  // send writes a frame (stamped with ts); false when not connected.
  send(frame) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify({ ts: new Date().toISOString(), ...frame }));
    return true;
  }

  onFrame(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (!m || typeof m !== 'object') return;
    if (m.type === 'ping') { this.send({ type: 'pong' }); return; }
    if (m.type === 'pong') return;
    const p = m.payload || {};
    const sid = m.session_id || p.session_id;
    const f = sid ? this.follows.get(sid) : undefined;
    if (!f) {
      this.dispatchEvent(new CustomEvent('frame', { detail: m }));
      return;
    }
    if (m.type === 'history.response') {
      for (const e of p.messages || []) this.deliver(f, e);
      if (!p.has_more) f.handler({ type: '_replayed', payload: { last_seq: f.lastSeq } });
      return;
    }
    this.deliver(f, m);
  }

  deliver(f, m) {
    if (typeof m.seq !== 'number') { f.handler(m); return; }
    if (m.seq <= f.lastSeq) { this.duplicates++; return; }
    f.lastSeq = m.seq;
    f.handler(m);
  }
}
