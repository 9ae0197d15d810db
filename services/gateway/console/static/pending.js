// Placeholders for views whose hub APIs have not landed yet (devices:
// the device issue; live feed: /notification). They ask the hub, and say
// so plainly when the API is not there (404). No data is made up.

import { probe } from './api.js';
import { h, notice } from './dom.js';

function placeholder(root, title, path, what) {
  const box = h('div', { class: 'placeholder', id: 'placeholder' }, notice('asking the hub…'));
  root.append(h('h1', null, title), h('p', { class: 'hint' }, what), box);
  probe(path).then((r) => {
    if (!r.exists) {
      box.replaceChildren(notice(`${title} is not available on this hub yet (${path} answered 404).`));
      return;
    }
    box.replaceChildren(
      notice(`This hub answers ${path} (HTTP ${r.status}), but this console does not show it yet.`),
      h('pre', { class: 'raw' }, r.text.slice(0, 4000)));
  }).catch((err) => box.replaceChildren(notice(String(err), 'error')));
}

export function devicesView(root) {
  placeholder(root, 'Devices', '/v1/devices',
    'Devices online, pending pairing codes, paired controllers (revoke) and uploads in flight — once the device dialect has landed.');
}

export function feedView(root) {
  placeholder(root, 'Live feed', '/notification',
    'Progress, UserNotification and AppNotification events, filterable — once /notification exists.');
}
