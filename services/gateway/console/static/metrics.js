// A small parser of the Prometheus text format (what /metrics serves) and
// rates between two samples.

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

// parse returns [{name, labels, value}] of every sample line.
export function parse(text) {
  const out = [];
  for (const raw of text.split('\n')) {
    if (!raw || raw[0] === '#') continue;
    const m = raw.match(LINE);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

// byLabel sums the samples of one metric by the value of one label.
export function byLabel(samples, name, label) {
  const out = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const k = label ? (s.labels[label] ?? '') : '';
    out[k] = (out[k] || 0) + s.value;
  }
  return out;
}

// rates is (now - before) / seconds for every key of now (counters).
export function rates(before, now, seconds) {
  const out = {};
  for (const [k, v] of Object.entries(now)) out[k] = Math.max(0, (v - (before[k] || 0)) / seconds);
  return out;
}
