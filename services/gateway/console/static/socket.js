// ReconnectingSocket is the console's socket discipline, shared by the
// hub socket (hub.js) and the push channels (push.js): states idle,
// connecting, open, reconnecting, auth_failed (close 1008: the token was
// refused, no retry); a dropped socket reconnects with exponential backoff
// (0.5 s doubling to 30 s, half random), reset once a socket stayed open
// for 5 s. A subclass implements connect() (which calls dial) and
// onFrame(data), and may override opened().

const MIN_DELAY = 500;
const MAX_DELAY = 30000;
const STABLE_MS = 5000; // a socket open this long resets the backoff

export class ReconnectingSocket extends EventTarget {
  // closeReason is the reason of the close frame stop() sends.
  constructor(closeReason) {
    super();
    this.closeReason = closeReason;
    this.state = 'idle';
    this.attempt = 0;
    this.reconnects = 0; // successful reconnects after a drop
    this.ws = null;
    this.stopped = true;
    this.everOpen = false;
    this.closeInfo = ''; // code and reason of the last close
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stableTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, this.closeReason);
    this.setState('idle');
  }

  // dial opens the socket at url; connect() calls it.
  dial(url) {
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      if (this.everOpen) this.reconnects++;
      this.everOpen = true;
      this.closeInfo = '';
      this.setState('open');
      this.opened();
      this.stableTimer = setTimeout(() => { this.attempt = 0; }, STABLE_MS);
    };
    ws.onmessage = (ev) => { if (this.ws === ws) this.onFrame(ev.data); };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.stableTimer);
      if (this.stopped) return;
      this.closeInfo = ev.code + (ev.reason ? ' ' + ev.reason : '');
      if (ev.code === 1008) { // policy: the token was refused
        this.setState('auth_failed');
        return;
      }
      this.backoff();
    };
  }

  // opened runs when a socket opens (after the state is "open").
  opened() {}

  backoff() {
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    this.attempt++;
    const delay = base / 2 + Math.random() * base / 2;
    this.retryAt = Date.now() + delay;
    this.setState('reconnecting');
    this.retryTimer = setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  get connected() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }
}
