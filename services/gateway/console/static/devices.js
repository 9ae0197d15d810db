// Devices (document 001 through the hub): the device agents online
// (endpoints of profile "device", GET /v1/endpoints, caps.device), the
// pending pairing codes (admin: GET /v1/pairings, with a countdown to
// expiry), the paired controllers with revoke (admin: GET
// /v1/devices/{id}/pairings where the hub lists them, DELETE
// /v1/devices/{id}/pairings/{hub_id}) and the uploads in flight (Progress
// events with TransferMode Upload on /notification). A part whose route
// this hub does not have says so (404) instead of showing made-up data.

import { api, missingRoute } from './api.js';
import { auth } from './auth.js';
import { h, notice, errorText, every, fmtBytes } from './dom.js';
import { PushSocket, stateText } from './push.js';

const POLL_MS = 2000;
const DONE_KEEP_MS = 30000; // a finished upload stays listed this long

export function devicesView(root) {
  const devBox = h('div', { id: 'devices' });
  const codeBox = h('div', { id: 'pairings' });
  const ctlBox = h('div', { id: 'controllers' });
  const upBox = h('div', { id: 'uploads' });
  root.append(h('h1', null, 'Devices'),
    h('section', null, h('h2', null, 'Devices online'), devBox),
    h('section', null, h('h2', null, 'Pending pairing codes'), codeBox),
    h('section', null, h('h2', null, 'Paired controllers'), ctlBox),
    h('section', null, h('h2', null, 'Uploads in flight'), upBox));

  const stops = [];
  const controllers = controllersPanel(ctlBox);
  stops.push(every(POLL_MS, async () => {
    let devices;
    try {
      devices = (await api.endpoints()).filter((ep) => ep.profile === 'device');
    } catch (err) {
      devBox.replaceChildren(notice('Devices could not be read — ' + errorText(err), 'error'));
      return;
    }
    devBox.replaceChildren(deviceTable(devices));
    controllers.devices(devices);
  }));
  if (auth.isAdmin) {
    const pairings = pairingsPanel(codeBox, (codes) => controllers.hubsSeen(codes));
    stops.push(pairings.stop);
    const ups = uploadsPanel(upBox, () => pairings.poll());
    stops.push(ups.stop);
  } else {
    codeBox.append(notice('Sign in with an admin token to see pending pairing codes.'));
    ctlBox.replaceChildren(notice('Sign in with an admin token to see and revoke paired controllers.'));
    stops.push(uploadsPanel(upBox, () => {}).stop);
  }
  return () => stops.forEach((s) => s());
}

function deviceTable(devices) {
  if (!devices.length) {
    return notice('No device agent has registered: run services/examples/deviceagent against this hub.');
  }
  const head = h('tr', null, ['Device', 'Name', 'Platform', 'Version', 'Accepts controllers', 'State'].map((t) => h('th', null, t)));
  const rows = devices.map((ep) => {
    const d = (ep.caps && ep.caps.device) || {};
    const accept = d.acceptConnections !== false; // absent means true
    return h('tr', { dataset: { device: ep.id } },
      h('td', null, h('code', null, ep.id)),
      h('td', null, d.name || ep.name || ''),
      h('td', null, d.platform || (ep.tags && ep.tags.platform) || ''),
      h('td', null, d.version || ''),
      h('td', { class: 'accept' }, accept ? 'yes' : 'no (controllers get 406)'),
      h('td', null, h('span', { class: 'dot ' + (ep.online ? 'on' : 'off') }, ep.online ? 'online' : 'offline')));
  });
  return h('div', { class: 'scroll' }, h('table', { id: 'device-table' }, h('thead', null, head), h('tbody', null, rows)));
}

// pairingsPanel polls GET /v1/pairings and ticks each code's countdown
// every second; onCodes gets the list after each poll.
function pairingsPanel(box, onCodes) {
  let codes = [];
  let missing = false;
  const body = h('tbody');
  const table = h('div', { class: 'scroll' }, h('table', { id: 'pairing-table' },
    h('thead', null, h('tr', null, ['Code', 'Device', 'Controller (hubId)', 'Expires in'].map((t) => h('th', null, t)))), body));
  const draw = () => {
    if (missing) return;
    const now = Date.now();
    const live = codes.filter((c) => Date.parse(c.expires_at) > now);
    if (!live.length) {
      box.replaceChildren(notice('No pairing code is pending. A controller that says hub_connected without a valid token gets one.'));
      return;
    }
    body.replaceChildren(...live.map((c) => {
      const secs = Math.max(0, Math.ceil((Date.parse(c.expires_at) - now) / 1000));
      return h('tr', { dataset: { device: c.device_id, hub: c.hub_id } },
        h('td', null, h('code', { class: 'pair-code' }, c.code)),
        h('td', null, h('code', null, c.device_id)),
        h('td', null, h('code', null, c.hub_id)),
        h('td', { class: 'countdown' }, `${secs}s`));
    }));
    if (!box.contains(table)) box.replaceChildren(table);
  };
  const poll = async () => {
    try {
      codes = await api.pairings();
      missing = false;
    } catch (err) {
      if (missingRoute(err)) {
        missing = true;
        box.replaceChildren(notice('Pairing codes are not available on this hub yet (GET /v1/pairings answered 404).'));
      } else {
        box.replaceChildren(notice('Pairing codes could not be read — ' + errorText(err), 'error'));
      }
      codes = [];
      onCodes(codes);
      return;
    }
    draw();
    onCodes(codes);
  };
  const stopPoll = every(POLL_MS, poll);
  const tick = setInterval(draw, 1000);
  return { stop: () => { stopPoll(); clearInterval(tick); }, poll };
}

// controllersPanel lists the paired controllers of each device where the
// hub lists them (GET /v1/devices/{id}/pairings), each with Revoke; the
// form below revokes any (device, hubId) by hand, which also works on a
// hub that has the revoke call but no listing.
function controllersPanel(box) {
  if (!auth.isAdmin) return { devices: () => {}, hubsSeen: () => {} };
  const list = h('div', { id: 'controller-list' });
  const dev = h('select', { id: 'revoke-device' });
  const hub = h('input', { id: 'revoke-hub', list: 'revoke-hubs', autocomplete: 'off', spellcheck: 'false', required: true });
  const hubs = h('datalist', { id: 'revoke-hubs' });
  const msg = h('div', { class: 'msg', id: 'revoke-msg' });
  const form = h('form', { class: 'card', id: 'revoke-form' },
    h('h2', null, 'Revoke a pairing'),
    h('p', { class: 'hint' }, "The controller's token stops working and its socket, on any gateway, is closed (401, close 1008); it must pair again."),
    h('label', { for: 'revoke-device' }, 'Device'), dev,
    h('label', { for: 'revoke-hub' }, 'Controller hubId'), hub, hubs,
    h('button', { type: 'submit', class: 'danger-fill' }, 'Revoke'), msg);
  box.append(list, form);

  const revoke = async (device, hubId) => {
    msg.replaceChildren();
    if (!device || !hubId) { msg.append(notice('Choose a device and name the controller hubId.', 'error')); return; }
    if (!confirm(`Revoke the pairing of ${hubId} with ${device}?`)) return;
    try {
      await api.revokePairing(device, hubId);
      msg.append(notice(`Revoked: ${hubId} is no longer paired with ${device}.`));
      refreshList();
    } catch (err) {
      if (missingRoute(err)) msg.append(notice('Revoking is not available on this hub yet (DELETE /v1/devices/{id}/pairings/{hub_id} answered 404).'));
      else msg.append(notice(errorText(err), 'error'));
    }
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); revoke(dev.value, hub.value.trim()); });

  let devices = [];
  let listed = null; // null: not asked yet; false: the hub has no listing
  let busy = false;
  const refreshList = async () => {
    if (busy || listed === false) return;
    busy = true;
    try {
      const rows = [];
      for (const d of devices) {
        for (const c of await api.controllers(d.id)) rows.push({ device_id: d.id, ...c });
      }
      listed = true;
      list.replaceChildren(rows.length ? controllerTable(rows, revoke) : notice('No controller is paired with a device.'));
    } catch (err) {
      if (missingRoute(err)) {
        listed = false;
        list.replaceChildren(notice('This hub does not list paired controllers (GET /v1/devices/{id}/pairings answered 404): revoke one by its hubId below.'));
      } else {
        list.replaceChildren(notice('Paired controllers could not be read — ' + errorText(err), 'error'));
      }
    } finally {
      busy = false;
    }
  };
  return {
    // devices: the device list changed (each poll).
    devices(devs) {
      devices = devs;
      if (dev.options.length !== devs.length || [...dev.options].some((o, i) => o.value !== devs[i].id)) {
        const keep = dev.value;
        dev.replaceChildren(...devs.map((d) => h('option', { value: d.id }, d.id)));
        if (keep) dev.value = keep;
      }
      if (devs.length) refreshList();
      else if (listed !== false) list.replaceChildren(notice('No device agent has registered.'));
    },
    // hubsSeen offers the hubIds of pending codes in the revoke form.
    hubsSeen(codes) {
      const seen = [...new Set(codes.map((c) => c.hub_id))];
      hubs.replaceChildren(...seen.map((id) => h('option', { value: id })));
    },
  };
}

function controllerTable(rows, revoke) {
  const head = h('tr', null, ['Device', 'Controller (hubId)', 'Name', 'Paired', 'Connected', ''].map((t) => h('th', null, t)));
  return h('div', { class: 'scroll' }, h('table', { id: 'controller-table' }, h('thead', null, head), h('tbody', null,
    rows.map((c) => h('tr', { dataset: { device: c.device_id, hub: c.hub_id } },
      h('td', null, h('code', null, c.device_id)),
      h('td', null, h('code', null, c.hub_id)),
      h('td', null, c.hub_name || ''),
      h('td', null, c.created_at || c.created || ''),
      h('td', null, c.connected === undefined ? '' : h('span', { class: 'dot ' + (c.connected ? 'on' : 'off') }, c.connected ? 'yes' : 'no')),
      h('td', null, h('button', { type: 'button', class: 'danger', onclick: () => revoke(c.device_id, c.hub_id) }, 'Revoke')))))));
}

// uploadsPanel follows Progress (and pairing UserNotification) events on
// /notification?types=1,2: every Upload transfer with its latest
// progress; a finished one stays DONE_KEEP_MS with its final status.
// onPairing is called on a pairing notification (the code list is
// refreshed at once instead of at the next poll).
function uploadsPanel(box, onPairing) {
  const state = h('p', { id: 'uploads-state', class: 'notice', role: 'status' }, '…');
  const body = h('div', { id: 'upload-list' });
  box.append(state, body);
  const transfers = new Map(); // TransferId -> {d, at, done}
  const sock = new PushSocket({ token: auth.isAdmin ? auth.admin : auth.client, types: [1, 2] });
  sock.addEventListener('state', () => {
    state.textContent = 'Progress events: ' + stateText(sock);
    state.dataset.state = sock.state;
  });
  sock.addEventListener('event', (e) => {
    const { type, data } = e.detail;
    if (type === 2) {
      if (data.Category === 'pairing') onPairing();
      return;
    }
    if (type !== 1 || data.TransferMode !== 'Upload') return;
    const id = data.TransferId || data.Path || '?';
    const done = ['Completed', 'Failed', 'Cancelled'].includes(data.Status);
    transfers.set(id, { d: data, at: Date.now(), done });
    draw();
  });
  const draw = () => {
    const now = Date.now();
    for (const [id, t] of transfers) if (t.done && now - t.at > DONE_KEEP_MS) transfers.delete(id);
    if (!transfers.size) {
      body.replaceChildren(notice('No upload in flight.'));
      return;
    }
    body.replaceChildren(h('ul', { class: 'uploads' }, [...transfers].map(([id, t]) => uploadItem(id, t.d))));
  };
  draw();
  const tick = setInterval(draw, 5000);
  sock.start();
  return { stop: () => { sock.stop(); clearInterval(tick); } };
}

function uploadItem(id, d) {
  const size = d.Size || 0;
  const pct = size > 0 ? Math.min(100, Math.floor((100 * (d.Bytes || 0)) / size)) : 0;
  const label = `${d.Name || d.Path || id}`;
  return h('li', { class: 'upload-item', dataset: { transfer: id, status: d.Status || '' } },
    h('div', { class: 'row' },
      h('strong', null, label),
      h('span', { class: 'status ' + String(d.Status || '').toLowerCase() }, d.Status || ''),
      h('span', { class: 'hint' }, `${fmtBytes(d.Bytes || 0)} of ${fmtBytes(size)} (${pct}%)` +
        (d.Speed ? ` · ${fmtBytes(d.Speed)}/s` : '') + (d.Duration ? ` · ${d.Duration}` : ''))),
    h('progress', { max: 100, value: pct, 'aria-label': `${label}: ${pct}%` }),
    h('div', { class: 'hint' }, h('code', null, d.Path || ''), d.StorageName ? ` · ${d.StorageName}` : '', d.Error ? ` · ${d.Error}` : ''));
}
