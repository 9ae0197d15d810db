// One session: the transcript streamed live over /ws/client (replayed
// from after_seq on every (re)connect, each entry shown once), a composer
// (user.message), stop (stop.request), close (session.close), permission
// prompts with a countdown to the hub's 60 s auto-deny, and files: upload
// by drag and drop or a file picker (POST /v1/files), download of every
// file of the session (GET /v1/files/{id}).

import { api, upload, download } from './api.js';
import { h, notice, errorText, fmtBytes, fmtTime } from './dom.js';

const PERMISSION_TIMEOUT_MS = 60000; // document 003: auto-deny after 60 s

export function sessionView(root, ctx, sid) {
  const hub = ctx.hub;
  const meta = h('p', { class: 'hint', id: 'session-meta' }, 'loading…');
  const link = h('span', { id: 'link-state', class: 'badge', role: 'status', 'aria-live': 'polite' });
  const transcript = h('div', { id: 'transcript', class: 'transcript', role: 'log', 'aria-live': 'polite', tabindex: '0' });
  const input = h('textarea', { id: 'message', rows: 2, placeholder: 'Message (Enter sends, Shift+Enter: new line)', 'aria-label': 'Message' });
  const send = h('button', { type: 'submit', id: 'send' }, 'Send');
  const stop = h('button', { type: 'button', id: 'stop', disabled: true }, 'Stop');
  const close = h('button', { type: 'button', id: 'close', class: 'danger' }, 'Close session');
  const composer = h('form', { class: 'composer', id: 'composer' }, input, h('div', { class: 'row' }, send, stop, close));
  const fileList = h('ul', { id: 'files', class: 'files' });
  const picker = h('input', { type: 'file', id: 'file-input', multiple: true });
  const drop = h('div', { class: 'drop', id: 'drop', tabindex: '0' },
    'Drop files here, or ', h('label', { for: 'file-input', class: 'linkish' }, 'choose files'), picker);
  const uploads = h('div', { id: 'uploads' });
  root.append(
    h('div', { class: 'head' }, h('h1', null, 'Session ', h('code', null, sid)), link),
    meta,
    h('div', { class: 'session' },
      h('section', { class: 'main-col' }, transcript, composer),
      h('aside', { class: 'side-col', 'aria-label': 'Files' }, h('h2', null, 'Files'), drop, uploads, fileList)));

  const state = { turn: false, closed: false, block: null, prompts: new Map(), files: new Map() };

  const showLink = () => {
    link.dataset.state = hub.state;
    link.textContent = hub.state === 'open' ? `live · seq ${hub.lastSeq(sid)}`
      : hub.state === 'reconnecting' ? `reconnecting… (resumes after seq ${hub.lastSeq(sid)})` : hub.state;
  };
  hub.addEventListener('state', showLink);
  showLink();

  const line = (cls, ...children) => {
    const el = h('div', { class: 'entry ' + cls }, ...children);
    transcript.append(el);
    return el;
  };
  const stick = () => {
    const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
    return () => { if (nearBottom) transcript.scrollTop = transcript.scrollHeight; };
  };
  const setTurn = (on) => {
    state.turn = on;
    stop.disabled = !on || state.closed;
    transcript.dataset.turn = on ? 'running' : 'idle';
  };
  const setClosed = () => {
    state.closed = true;
    input.disabled = send.disabled = stop.disabled = close.disabled = picker.disabled = true;
    drop.classList.add('disabled');
  };
  const addFile = (md, origin) => {
    if (!md || !md.file_id || state.files.has(md.file_id)) return;
    state.files.set(md.file_id, md);
    const msg = h('span');
    fileList.append(h('li', { dataset: { file: md.file_id } },
      h('button', {
        type: 'button', class: 'linkish', title: 'Download ' + md.name,
        onclick: async () => {
          msg.replaceChildren();
          try { await download(md.file_id, md.name); } catch (err) { msg.append(notice(errorText(err), 'error')); }
        },
      }, md.name || md.file_id),
      h('span', { class: 'hint' }, ` ${fmtBytes(md.size)} · ${origin || md.origin || ''}`), msg));
  };

  const onEntry = (m) => {
    const scroll = stick();
    const p = m.payload || {};
    const seqAttr = typeof m.seq === 'number' ? { seq: String(m.seq) } : {};
    switch (m.type) {
      case 'user.message':
        state.block = null;
        line('user', h('span', { class: 'who' }, '›'), ' ', p.content ?? '').dataset.seq = seqAttr.seq;
        break;
      case 'turn.started':
        setTurn(true);
        break;
      case 'agent.output': {
        if (!state.block) {
          state.block = h('pre', { class: 'output' });
          line('agent', state.block);
        }
        if (p.content) state.block.append(h('span', { class: 'ch-' + (p.channel || 'stdout'), dataset: seqAttr }, p.content));
        break;
      }
      case 'turn.completed':
        state.block = null;
        setTurn(false);
        line('meta', 'turn completed' + (p.exit_code !== undefined && p.exit_code !== null ? ` · exit ${p.exit_code}` : '')).dataset.seq = seqAttr.seq;
        break;
      case 'stop.ack':
        state.block = null;
        setTurn(false);
        line('meta', p.ok === false ? 'stop failed' : 'stopped').dataset.seq = seqAttr.seq;
        break;
      case 'permission.request':
        state.block = null;
        promptCard(m);
        break;
      case 'permission.response':
        settle(p);
        break;
      case 'file.available':
        state.block = null;
        addFile(p.metadata, 'from the runtime');
        line('meta', 'file from the runtime: ', (p.metadata && p.metadata.name) || '', ` (${fmtBytes(p.metadata && p.metadata.size)})`).dataset.seq = seqAttr.seq;
        break;
      case 'session.closed':
        state.block = null;
        setTurn(false);
        setClosed();
        line('meta closed', 'session closed' + (p.reason ? ': ' + p.reason : '')).dataset.seq = seqAttr.seq;
        break;
      case 'error':
        line('error', `${p.code || 'error'}: ${p.message || ''}`);
        break;
      case '_replayed':
        transcript.dataset.replayed = 'true';
        break;
      default:
        if (typeof m.seq === 'number') line('meta', m.type).dataset.seq = seqAttr.seq;
    }
    showLink();
    scroll();
  };

  const promptCard = (m) => {
    const p = m.payload || {};
    const sent = Date.parse(m.ts);
    const deadline = (Number.isNaN(sent) ? Date.now() : sent) + PERMISSION_TIMEOUT_MS;
    const countdown = h('span', { class: 'countdown' });
    const msg = h('span', { class: 'result' });
    const answer = (approved, always) => () => {
      const ok = hub.send({ type: 'permission.response', session_id: sid,
        payload: { session_id: sid, request_id: p.request_id, approved, always_allow: always } });
      if (!ok) { msg.textContent = 'not connected; try again'; return; }
      for (const b of buttons.querySelectorAll('button')) b.disabled = true;
      msg.textContent = 'sent…';
    };
    const buttons = h('div', { class: 'row' },
      h('button', { type: 'button', class: 'approve', onclick: answer(true, false) }, 'Approve'),
      h('button', { type: 'button', class: 'danger deny', onclick: answer(false, false) }, 'Deny'),
      h('button', { type: 'button', class: 'always', onclick: answer(true, true) }, `Always allow ${p.tool || ''}`));
    const card = line('permission pending',
      h('div', null, h('strong', null, 'Permission: '), h('code', null, p.tool || '?'), ' — ', p.description || ''),
      p.resource ? h('div', { class: 'hint' }, 'resource: ', h('code', null, p.resource)) : null,
      buttons, countdown, msg);
    card.dataset.request = p.request_id;
    card.dataset.seq = String(m.seq);
    const prompt = { card, buttons, countdown, msg, deadline, timer: 0 };
    const tick = () => {
      const left = Math.max(0, Math.ceil((prompt.deadline - Date.now()) / 1000));
      countdown.textContent = left > 0 ? ` auto-deny in ${left}s` : ' auto-denying…';
      if (left > 0) prompt.timer = setTimeout(tick, 1000);
    };
    tick();
    state.prompts.set(p.request_id, prompt);
  };

  const settle = (p) => {
    const prompt = state.prompts.get(p.request_id);
    if (!prompt) return;
    clearTimeout(prompt.timer);
    prompt.card.classList.remove('pending');
    prompt.card.classList.add(p.approved ? 'approved' : 'denied');
    for (const b of prompt.buttons.querySelectorAll('button')) b.disabled = true;
    prompt.countdown.textContent = '';
    const why = p.reason === 'timeout' ? ' (no answer in 60 s)' : p.reason === 'always_allow' ? ' (always allowed)' : p.always_allow ? ' (always allow)' : '';
    prompt.msg.textContent = (p.approved ? ' approved' : ' denied') + why;
  };

  const sendMessage = () => {
    const content = input.value;
    if (!content.trim() || state.closed) return;
    const ok = hub.send({ type: 'user.message', session_id: sid,
      payload: { session_id: sid, message_id: crypto.randomUUID(), content } });
    if (!ok) { line('error', 'not connected to the hub; the message was not sent'); return; }
    input.value = '';
  };
  composer.addEventListener('submit', (e) => { e.preventDefault(); sendMessage(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendMessage(); }
  });
  stop.addEventListener('click', () => {
    hub.send({ type: 'stop.request', session_id: sid, payload: { session_id: sid } });
  });
  close.addEventListener('click', () => {
    if (!confirm('Close this session?')) return;
    hub.send({ type: 'session.close', session_id: sid, payload: { session_id: sid, reason: 'user_requested' } });
  });

  const sendFiles = async (files) => {
    for (const f of files) {
      const bar = h('progress', { max: 1, value: 0 });
      const row = h('div', { class: 'upload' }, f.name, ' ', bar);
      uploads.append(row);
      try {
        const md = await upload(sid, f, (x) => { bar.value = x; });
        row.remove();
        addFile({ ...md, origin: 'upload' }, 'uploaded');
      } catch (err) {
        row.replaceChildren(notice(`${f.name}: ${errorText(err)}`, 'error'));
      }
    }
  };
  picker.addEventListener('change', () => { sendFiles([...picker.files]); picker.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (!state.closed && e.dataTransfer) sendFiles([...e.dataTransfer.files]);
  });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); picker.click(); } });

  api.session(sid).then((s) => {
    meta.replaceChildren(`endpoint ${s.endpoint_id} · runtime ${s.runtime_id}${s.runtime_online ? '' : ' (offline)'} · ${s.status} · created ${fmtTime(s.created_at)}`);
    if (s.status === 'closed') setClosed();
  }).catch((err) => meta.replaceChildren(notice(errorText(err), 'error')));
  api.sessionFiles(sid).then((list) => { for (const f of list) addFile(f, f.origin === 'runtime' ? 'from the runtime' : 'uploaded'); })
    .catch(() => { /* older hub: files still come from the transcript */ });

  const unfollow = hub.follow(sid, onEntry);
  input.focus();
  return () => {
    unfollow();
    hub.removeEventListener('state', showLink);
    for (const p of state.prompts.values()) clearTimeout(p.timer);
  };
}
