// The hub's public REST API. Errors are {code, message} with an HTTP
// status (docs/errors.md); they become ApiError.

import { auth } from './auth.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(admin, token) {
  const t = token ?? (admin ? auth.admin : auth.client);
  return t ? { Authorization: 'Bearer ' + t } : {};
}

async function answer(res) {
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.code) || 'http_' + res.status,
      (data && data.message) || text.trim() || res.statusText);
  }
  return data;
}

// call runs one REST call. opts: body (JSON), admin (use the admin
// token), token (use this token instead).
export async function call(method, path, opts = {}) {
  const h = headers(opts.admin, opts.token);
  let body;
  if (opts.body !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, { method, headers: h, body, cache: 'no-store' });
  return answer(res);
}

export const api = {
  endpoints: () => call('GET', '/v1/endpoints'),
  sessions: () => call('GET', '/v1/sessions'),
  session: (id) => call('GET', '/v1/sessions/' + encodeURIComponent(id)),
  createSession: (endpointId) => call('POST', '/v1/sessions', { body: { endpoint_id: endpointId } }),
  sessionFiles: (id) => call('GET', '/v1/sessions/' + encodeURIComponent(id) + '/files'),
  putConfig: (id, cfg) => call('PUT', '/v1/endpoints/' + encodeURIComponent(id) + '/config', { body: cfg, admin: true }),
  issueToken: (rid) => call('POST', '/v1/runtimes/' + encodeURIComponent(rid) + '/tokens', { admin: true }),
  revokeTokens: (rid) => call('DELETE', '/v1/runtimes/' + encodeURIComponent(rid) + '/tokens', { admin: true }),
  cluster: () => call('GET', '/v1/cluster', { admin: true }),
  pairings: () => call('GET', '/v1/pairings', { admin: true }),
  controllers: (device) => call('GET', '/v1/devices/' + encodeURIComponent(device) + '/pairings', { admin: true }),
  revokePairing: (device, hubId) => call('DELETE', '/v1/devices/' + encodeURIComponent(device) + '/pairings/' + encodeURIComponent(hubId), { admin: true }),
};

// upload sends one file to POST /v1/files (multipart: session_id first,
// so the hub streams the file) and reports progress (0..1).
export function upload(sessionId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('session_id', sessionId);
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/files');
    xhr.setRequestHeader('Authorization', 'Bearer ' + auth.client);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'upload failed: network error'));
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status === 201) resolve(data);
      else reject(new ApiError(xhr.status, (data && data.code) || 'http_' + xhr.status, (data && data.message) || xhr.statusText));
    };
    xhr.send(form);
  });
}

// download fetches GET /v1/files/{id} with the client token (a link
// cannot carry the header) and hands the bytes to the browser as a file.
export async function download(fileId, name) {
  const res = await fetch('/v1/files/' + encodeURIComponent(fileId), { headers: headers(false), cache: 'no-store' });
  if (!res.ok) await answer(res);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name || fileId;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return blob;
}

// missingRoute: the hub has no such route (a 404 that is not one of the
// API's own {code, message} answers, such as pairing_not_found).
export function missingRoute(err) {
  return err instanceof ApiError && err.status === 404 && err.code === 'http_404';
}

// probe answers whether path exists on this hub (anything but 404).
export async function probe(path) {
  const res = await fetch(path, { headers: headers(false), cache: 'no-store' });
  let text = '';
  try { text = await res.text(); } catch { text = ''; }
  return { status: res.status, exists: res.status !== 404, text };
}
