// sluice web UI: graphs drawn as SVG. A pipeline run's DAG (steps, by
// status) and an artifact's lineage (both ways) share one layered layout:
// a node's column is the longest path to it from a source, rows within a
// column are ordered by the mean row of their predecessors (a few sweeps),
// edges are curves from a node's right side to the next one's left.
(function () {
'use strict';

const SL = window.SL = window.SL || {};

const W = 178, H = 46, GX = 56, GY = 16, PAD = 12;

function clip(s, n) {
  s = String(s);
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// nodes: [{id, label, sub, cls, title}], edges: [[fromId, toId]]
// onpick(id) is called when a node is clicked; selected: id drawn thicker.
SL.graph = function (nodes, edges, onpick, selected) {
  const byId = new Map(nodes.map((n, i) => [n.id, i]));
  const preds = nodes.map(() => []);
  const succs = nodes.map(() => []);
  for (const [a, b] of edges) {
    if (!byId.has(a) || !byId.has(b) || a === b) continue;
    const i = byId.get(a), j = byId.get(b);
    if (!succs[i].includes(j)) { succs[i].push(j); preds[j].push(i); }
  }
  // Columns: longest path from a source (Kahn's order; a cycle cannot
  // happen in a DAG, but a node left unvisited still gets column 0).
  const col = nodes.map(() => 0);
  const indeg = preds.map((p) => p.length);
  const queue = nodes.map((_, i) => i).filter((i) => indeg[i] === 0);
  while (queue.length) {
    const i = queue.shift();
    for (const j of succs[i]) {
      col[j] = Math.max(col[j], col[i] + 1);
      if (--indeg[j] === 0) queue.push(j);
    }
  }
  const ncol = Math.max(0, ...col) + 1;
  const cols = Array.from({length: ncol}, () => []);
  nodes.forEach((_, i) => cols[col[i]].push(i));
  const row = new Array(nodes.length).fill(0);
  cols.forEach((c) => c.forEach((i, k) => { row[i] = k; }));
  for (let sweep = 0; sweep < 4; sweep++) {
    for (const c of cols) {
      const key = (i) => (preds[i].length ? preds[i].reduce((a, p) => a + row[p], 0) / preds[i].length : row[i]);
      c.sort((a, b) => key(a) - key(b) || row[a] - row[b]);
      c.forEach((i, k) => { row[i] = k; });
    }
  }
  const nrow = Math.max(1, ...cols.map((c) => c.length));
  const width = PAD * 2 + ncol * W + (ncol - 1) * GX;
  const height = PAD * 2 + nrow * H + (nrow - 1) * GY;
  // Columns are centred vertically.
  const y0 = (i) => PAD + row[i] * (H + GY) + ((nrow - cols[col[i]].length) * (H + GY)) / 2;
  const x0 = (i) => PAD + col[i] * (W + GX);

  const root = SL.svg('svg', {class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'img'});
  const eg = SL.svg('g', {class: 'edges'});
  root.appendChild(eg);
  succs.forEach((js, i) => js.forEach((j) => {
    const x1 = x0(i) + W, y1 = y0(i) + H / 2, x2 = x0(j), y2 = y0(j) + H / 2;
    const mx = (x1 + x2) / 2;
    eg.appendChild(SL.svg('path', {class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
      'data-from': nodes[i].id, 'data-to': nodes[j].id}));
  }));
  nodes.forEach((n, i) => {
    const g = SL.svg('g', {class: 'node ' + (n.cls || '') + (selected === n.id ? ' sel' : ''),
      transform: `translate(${x0(i)},${y0(i)})`, 'data-id': n.id, tabindex: 0},
      SL.svg('title', null, n.title || n.label),
      SL.svg('rect', {width: W, height: H}),
      SL.svg('text', {x: 10, y: 19}, clip(n.label, 24)),
      SL.svg('text', {x: 10, y: 36, class: 'sub'}, clip(n.sub || '', 28)));
    if (onpick) {
      g.addEventListener('click', () => onpick(n.id));
      g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') onpick(n.id); });
    }
    root.appendChild(g);
  });
  return root;
};

// A run's DAG: the pipeline file's graph (every step, also those not yet
// started) joined with the run's steps (status, duration, cache) and the
// edges their artifacts make.
SL.runGraph = function (run, pipe, onpick, selected) {
  const steps = run.steps.filter((s) => !s.parent);
  const byName = new Map(steps.map((s) => [s.name, s]));
  const names = [];
  const seen = new Set();
  const add = (n) => { if (!seen.has(n)) { seen.add(n); names.push(n); } };
  if (pipe) pipe.steps.forEach((s) => add(s.name));
  steps.forEach((s) => add(s.name));
  const edges = [];
  if (pipe) pipe.steps.forEach((s) => (s.needs || []).forEach((u) => edges.push([u, s.name])));
  const producer = new Map();
  steps.forEach((s) => Object.values(s.outputs || {}).forEach((id) => producer.set(id, s.name)));
  steps.forEach((s) => Object.values(s.inputs || {}).forEach((id) => {
    if (producer.has(id)) edges.push([producer.get(id), s.name]);
  }));
  const nodes = names.map((n) => {
    const s = byName.get(n);
    const status = s ? (s.cache_hit && s.status === 'completed' ? 'cached' : s.status) : 'pending';
    let sub = status;
    if (s && s.duration_ms !== null && s.duration_ms !== undefined) sub += ' · ' + SL.dur(s.duration_ms);
    if (s && s.status === 'running' && s.started) sub += ' · ' + SL.dur(Date.now() - Date.parse(s.started));
    return {id: n, label: n, sub, cls: 'n-' + status, title: n + ' (' + status + ')'};
  });
  return SL.graph(nodes, edges, onpick, selected);
};

// An artifact's lineage: ancestors (trees of "inputs") to its left,
// descendants (trees of "outputs") to its right, and after a model what its
// versions served (the inference log's requests; not a page of its own).
SL.lineageGraph = function (lin, onpick) {
  const nodes = new Map();
  const edges = [];
  const node = (a, focus) => {
    if (!nodes.has(a.id))
      nodes.set(a.id, {id: a.id, label: (a.type || 'artifact') + ' ' + SL.short(a.id),
        sub: a.step ? 'by ' + a.step + (a.run ? ' · run ' + SL.short(a.run) : '') : '',
        cls: focus ? 'n-focus' : 'n-artifact', title: a.id});
    (a.served || []).forEach((s) => {
      const id = 'served:' + s.model + '@' + s.version;
      nodes.set(id, {id, label: 'served ' + s.model + '@' + s.version,
        sub: s.requests + ' requests', cls: 'n-artifact', title: s.logs});
      edges.push([a.id, id]);
    });
  };
  node(lin, true);
  const up = (a) => (a.inputs || []).forEach((p) => { node(p); edges.push([p.id, a.id]); up(p); });
  const down = (a) => (a.outputs || []).forEach((c) => { node(c); edges.push([a.id, c.id]); down(c); });
  (lin.ancestors || []).forEach((p) => { node(p); edges.push([p.id, lin.id]); up(p); });
  (lin.descendants || []).forEach((c) => { node(c); edges.push([lin.id, c.id]); down(c); });
  const pick = onpick && ((id) => { if (!id.startsWith('served:')) onpick(id); });
  return SL.graph([...nodes.values()], edges, pick, lin.id);
};
})();
