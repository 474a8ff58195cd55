// sluice web UI: the pages. Each is an async function (main, segments,
// query) that fetches what it shows from /api and builds the DOM with
// SL.h (text nodes only; see app.js).
(function () {
'use strict';

const SL = window.SL = window.SL || {};
const P = SL.pages = SL.pages || {};
const h = (...a) => SL.h(...a);

function table(head, rows, opts) {
  const t = h('table', opts || null,
    h('thead', null, h('tr', null, head.map((c) => h('th', typeof c === 'object' ? c : null, typeof c === 'object' ? c.text : c)))),
    h('tbody', null, rows));
  return t;
}

function kv(pairs) {
  return h('dl', {class: 'kv'}, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '')
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function filterForm(query, fields, onsubmit) {
  const inputs = {};
  const form = h('form', {class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const q = {};
    for (const [k, el] of Object.entries(inputs)) q[k] = el.value.trim();
    onsubmit(q);
  }});
  for (const f of fields) {
    let el;
    if (f.options) {
      el = h('select', {name: f.name, 'aria-label': f.label},
        f.options.map((o) => h('option', {value: o, selected: query.get(f.name) === o}, o || 'any ' + f.label)));
    } else {
      el = h('input', {name: f.name, placeholder: f.label, value: query.get(f.name) || '', size: f.size || 18});
    }
    inputs[f.name] = el;
    form.appendChild(el);
  }
  form.appendChild(h('button', {type: 'submit', class: 'primary'}, 'Filter'));
  return form;
}

// ---- runs -------------------------------------------------------------------------

const RUN_STATUSES = ['', 'running', 'completed', 'failed', 'cancelled'];

P.runs = async function (main, segs, query) {
  if (segs.length) return P.run(main, segs[0], query);
  const q = {pipeline: query.get('pipeline'), status: query.get('status'), q: query.get('q'),
    offset: query.get('offset') || 0, limit: 50};
  const page = await SL.api('runs' + SL.qs(q));
  const nav = (extra) => SL.go(['runs'], Object.assign({pipeline: q.pipeline, status: q.status, q: q.q}, extra));
  const rows = page.items.map((r) => h('tr', {class: 'run-row'},
    h('td', {class: 'mono'}, SL.link(r.run, 'runs', r.run)),
    h('td', null, h('a', {href: '#/runs' + SL.qs({pipeline: r.pipeline})}, r.pipeline)),
    h('td', null, SL.badge(r.status)),
    h('td', null, SL.time(r.started)),
    h('td', {class: 'num'}, SL.dur(r.duration_ms)),
    h('td', {class: 'num'}, r.steps), h('td', {class: 'num'}, r.cached), h('td', {class: 'num'}, r.failed)));
  const canvas = SL.runActions ? await SL.api('canvas').catch(() => null) : null;
  SL.clear(main);
  SL.append(main, [
    h('h1', null, 'Runs'),
    SL.runActions ? SL.runActions(canvas ? canvas.pipelines : []) : null,
    filterForm(query, [{name: 'pipeline', label: 'pipeline'}, {name: 'status', label: 'status', options: RUN_STATUSES},
      {name: 'q', label: 'search id or pipeline', size: 24}], (f) => nav(f)),
    page.items.length ? table(['run', 'pipeline', 'status', 'started', {text: 'duration', class: 'num'},
      {text: 'steps', class: 'num'}, {text: 'cached', class: 'num'}, {text: 'failed', class: 'num'}], rows, {id: 'runs-table'})
      : h('p', {class: 'muted'}, 'No runs match.'),
    SL.pager(page, (offset) => nav({offset})),
  ]);
};

function stepPanel(run, step) {
  const box = h('div', {class: 'card', id: 'step-panel'});
  if (!step) {
    box.appendChild(h('p', {class: 'muted'}, 'Click a step to see its details, metrics and log.'));
    return box;
  }
  const s = run.steps.find((x) => x.name === step && !x.parent);
  SL.append(box, [h('h2', null, 'Step ', h('span', {class: 'mono'}, step))]);
  if (!s) {
    box.appendChild(h('p', {class: 'muted'}, 'Not started yet.'));
    return box;
  }
  SL.append(box, kv([
    ['status', SL.badge(s.status)], ['kind', s.kind], ['reason', s.reason], ['error', s.error],
    ['started', SL.time(s.started)], ['duration', SL.dur(s.duration_ms)],
    ['cache', s.cache_hit ? h('span', null, 'hit, computed by run ', SL.link(SL.short(s.cached_from_run), 'runs', s.cached_from_run || '')) : 'miss'],
    ['exit code', s.exit_code === -1 ? null : s.exit_code], ['job', s.job_id],
  ]));
  const io = (kind, m) => Object.entries(m || {}).map(([n, id]) => h('tr', null, h('td', null, kind), h('td', null, n),
    h('td', {class: 'mono'}, SL.link(SL.short(id), 'artifacts', id))));
  const ios = [...io('input', s.inputs), ...io('output', s.outputs)];
  if (ios.length) SL.append(box, [h('h2', null, 'Inputs and outputs'), table(['', 'name', 'artifact'], ios)]);
  const mets = Object.entries(s.metrics || {});
  if (mets.length) SL.append(box, [h('h2', null, 'Metrics'), table(['metric', {text: 'value', class: 'num'}],
    mets.map(([k, v]) => h('tr', null, h('td', null, k), h('td', {class: 'num'}, SL.num(v)))), {class: 'metrics'})]);
  const trials = run.steps.filter((x) => x.parent === step);
  if (trials.length) SL.append(box, [h('h2', null, 'Trials (' + trials.length + ')'),
    h('div', {class: 'scroll'}, table(['trial', 'status', ...Object.keys(trials[0].metrics || {})],
      trials.map((t) => h('tr', null, h('td', null, t.name), h('td', null, SL.badge(t.status)),
        Object.values(t.metrics || {}).map((v) => h('td', {class: 'num'}, SL.num(v)))))))]);
  const pre = h('pre', {class: 'log', id: 'step-log'}, 'loading the log…');
  SL.append(box, [h('h2', null, 'Log'), pre]);
  SL.api('runs/' + encodeURIComponent(run.run) + '/log' + SL.qs({step}))
    .then((t) => { pre.textContent = t || '(empty)'; pre.scrollTop = pre.scrollHeight; })
    .catch((e) => { pre.textContent = e.message; });
  return box;
}

P.run = async function (main, id, query) {
  let selected = query.get('step') || null;
  let pipe = null;
  try { pipe = await SL.api('runs/' + encodeURIComponent(id) + '/graph'); } catch (e) { pipe = null; }
  const draw = async (first) => {
    const run = await SL.api('runs/' + encodeURIComponent(id));
    if (!first && location.hash.indexOf('#/runs/' + encodeURIComponent(id)) !== 0) return;
    const pick = (name) => { selected = name; render(run); };
    const render = (r) => {
      SL.clear(main);
      SL.append(main, [
        h('h1', null, 'Run ', h('span', {class: 'mono'}, r.run), ' ', SL.badge(r.status)),
        h('div', {class: 'card'}, kv([['pipeline', h('a', {href: '#/runs' + SL.qs({pipeline: r.pipeline})}, r.pipeline)],
          ['file', r.file], ['started', SL.time(r.started)], ['ended', SL.time(r.ended)],
          ['duration', SL.dur(r.duration_ms)], ['orchestrator', r.orchestrator], ['host', r.host],
          ['params', Object.keys(r.params || {}).length ? JSON.stringify(r.params) : null]])),
        h('h2', null, 'Steps', r.status === 'running' ? h('span', {class: 'muted'}, ' (live)') : null),
        h('div', {id: 'dag'}, SL.runGraph(r, pipe, pick, selected)),
        stepPanel(r, selected),
      ]);
    };
    render(run);
    if (run.status === 'running') SL.timer = setTimeout(() => draw(false).catch(() => {}), 1000);
  };
  await draw(true);
};

// ---- artifacts ------------------------------------------------------------------------

const ART_TYPES = ['', 'dataset', 'schema', 'profile', 'transform', 'model', 'report', 'verdict', 'bundle', 'metrics', 'file'];

P.artifacts = async function (main, segs, query) {
  if (segs.length) return P.artifact(main, segs[0]);
  const q = {type: query.get('type'), q: query.get('q'), offset: query.get('offset') || 0, limit: 50};
  const page = await SL.api('artifacts' + SL.qs(q));
  const nav = (extra) => SL.go(['artifacts'], Object.assign({type: q.type, q: q.q}, extra));
  const rows = page.items.map((a) => h('tr', null,
    h('td', {class: 'mono'}, SL.link(SL.short(a.id), 'artifacts', a.id)),
    h('td', null, a.type), h('td', {class: 'num'}, a.size),
    h('td', null, SL.time(a.created)),
    h('td', null, a.producer ? [a.producer.step, ' · ', SL.link(SL.short(a.producer.run), 'runs', a.producer.run)] : '')));
  SL.clear(main);
  SL.append(main, [
    h('h1', null, 'Artifacts'),
    filterForm(query, [{name: 'type', label: 'type', options: ART_TYPES}, {name: 'q', label: 'search id or step', size: 24}], (f) => nav(f)),
    page.items.length ? table(['artifact', 'type', {text: 'bytes', class: 'num'}, 'created', 'made by'], rows)
      : h('p', {class: 'muted'}, 'No artifacts match.'),
    SL.pager(page, (offset) => nav({offset})),
  ]);
};

P.artifact = async function (main, id) {
  const [a, lin] = await Promise.all([SL.api('artifacts/' + encodeURIComponent(id)),
    SL.api('artifacts/' + encodeURIComponent(id) + '/lineage').catch(() => null)]);
  const parts = [
    h('h1', null, a.type, ' ', h('span', {class: 'mono'}, a.id)),
    h('div', {class: 'card'}, kv([['type', a.type], ['bytes', a.size], ['created', SL.time(a.created)],
      ['made by', a.producer ? [a.producer.step, ' in run ', SL.link(a.producer.run, 'runs', a.producer.run)] : 'imported'],
      ['used by', (a.consumers || []).length ? a.consumers.map((c, i) => [i ? ', ' : '', c.step, ' (', SL.link(SL.short(c.run), 'runs', c.run), ')']) : null],
      ['verified', a.verified === undefined ? null : String(a.verified)]])),
  ];
  const d = a.dataset;
  if (d && d.columns) {
    parts.push(h('h2', null, 'Schema (' + d.columns.length + ' columns, ' + d.rows + ' rows)'));
    parts.push(h('div', {class: 'scroll'}, table(['column', 'type', {text: 'nulls', class: 'num'}],
      d.columns.map((c) => h('tr', null, h('td', null, c.name), h('td', null, c.type), h('td', {class: 'num'}, c.nulls))), {id: 'schema'})));
    if (d.head && d.head.length) {
      parts.push(h('h2', null, 'First rows'));
      parts.push(h('div', {class: 'scroll'}, table(d.columns.map((c) => c.name),
        d.head.map((r) => h('tr', null, r.map((v) => h('td', {class: typeof v === 'number' ? 'num' : null}, v === null ? '' : SL.num(v))))), {id: 'head'})));
    }
  }
  if (a.type === 'report') {
    parts.push(h('h2', null, 'Report'));
    parts.push(SL.reportFrame(a.id));
  }
  const other = Object.entries(a).filter(([k]) => !['id', 'type', 'size', 'created', 'producer', 'consumers', 'tags', 'dataset', 'verified', 'meta'].includes(k));
  if (other.length) {
    parts.push(h('h2', null, 'Contents'));
    parts.push(h('pre', {class: 'log'}, JSON.stringify(Object.fromEntries(other), null, 2).slice(0, 20000)));
  }
  if (lin) {
    parts.push(h('h2', null, 'Lineage'));
    parts.push(h('p', {class: 'muted'}, 'What it was made from (left) and what was made from it (right).'));
    parts.push(h('div', {id: 'lineage'}, SL.lineageGraph(lin, (nid) => SL.go(['artifacts', nid]))));
  }
  SL.clear(main);
  SL.append(main, parts);
};

// An evaluation report's page (made by the server, its names escaped there)
// in a sandboxed frame: no script runs in it and it cannot reach this page.
// It is fetched with the token like any API answer and handed to the frame
// as its document.
SL.reportFrame = function (id) {
  const frame = h('iframe', {class: 'report', sandbox: '', title: 'evaluation report'});
  SL.api('artifacts/' + encodeURIComponent(id) + '/report')
    .then((html) => { frame.srcdoc = html; })
    .catch((e) => { frame.replaceWith(SL.errorBox(e)); });
  return frame;
};

// ---- models -------------------------------------------------------------------------------

P.models = async function (main, segs, query) {
  if (segs.length) return P.model(main, segs[0], query);
  const q = {q: query.get('q'), offset: query.get('offset') || 0, limit: 50};
  const page = await SL.api('models' + SL.qs(q));
  const nav = (extra) => SL.go(['models'], Object.assign({q: q.q}, extra));
  const rows = page.items.map((m) => h('tr', null, h('td', null, SL.link(m.name, 'models', m.name)),
    h('td', {class: 'num'}, m.versions), h('td', {class: 'num'}, m.latest),
    h('td', null, Object.entries(m.aliases || {}).map(([a, v]) => h('span', {class: 'alias'}, a + ' → ' + v))),
    h('td', null, SL.time(m.updated))));
  SL.clear(main);
  SL.append(main, [
    h('h1', null, 'Models'),
    filterForm(query, [{name: 'q', label: 'search name'}], (f) => nav(f)),
    page.items.length ? table(['model', {text: 'versions', class: 'num'}, {text: 'latest', class: 'num'}, 'aliases', 'updated'], rows)
      : h('p', {class: 'muted'}, 'No models registered yet (the register step adds them).'),
    SL.pager(page, (offset) => nav({offset})),
  ]);
};

// The versions' metrics side by side: a row per metric, a column per
// version (newest first), the best of each row in bold when the metric's
// direction is known.
const LOWER_BETTER = /(loss|error|rmse|mae|mse|mape|brier|ece|cost|latency)/;

function metricsTable(versions) {
  const names = [...new Set(versions.flatMap((v) => Object.keys(v.metrics || {})))].sort();
  if (!names.length) return h('p', {class: 'muted'}, 'No metrics recorded.');
  const rows = names.map((n) => {
    const vals = versions.map((v) => (v.metrics || {})[n]);
    const nums = vals.filter((x) => typeof x === 'number');
    const lo = Math.min(...nums), hi = Math.max(...nums);
    const best = nums.length > 1 && lo !== hi ? (LOWER_BETTER.test(n) ? lo : hi) : null;
    return h('tr', null, h('td', null, n), vals.map((x) => h('td', {class: 'num' + (x === best ? ' best' : '')}, SL.num(x))));
  });
  return h('div', {class: 'scroll'}, table(['metric', ...versions.map((v) => ({text: 'v' + v.version, class: 'num'}))], rows, {id: 'metrics-table'}));
}

P.model = async function (main, name, query) {
  const offset = Number(query.get('offset') || 0);
  const m = await SL.api('models/' + encodeURIComponent(name) + SL.qs({offset, limit: 20}));
  const versions = m.versions.slice().reverse();
  const page = {total: m.versions_total, offset: m.offset, limit: m.limit, items: versions};
  const rows = versions.map((v) => h('tr', {'data-version': v.version},
    h('td', {class: 'num'}, v.version),
    h('td', null, (v.aliases || []).map((a) => h('span', {class: 'alias'}, a))),
    h('td', null, SL.badge(v.verdict)),
    h('td', null, v.algorithm || ''),
    h('td', {class: 'mono'}, SL.link(SL.short(v.bundle), 'artifacts', v.bundle)),
    h('td', {class: 'mono'}, v.run ? SL.link(v.run, 'runs', v.run) : ''),
    h('td', null, SL.time(v.created)), h('td', null, v.created_by || ''),
    h('td', null, Object.entries(v.tags || {}).map(([k, t]) => h('span', {class: 'alias'}, k + '=' + t)))));
  const hist = m.history.slice().reverse().map((r) => h('tr', null,
    h('td', null, SL.time(r.at)), h('td', null, r.kind), h('td', null, h('span', {class: 'alias'}, r.alias)),
    h('td', {class: 'num'}, r.from === null ? '–' : r.from), h('td', {class: 'num'}, r.to === null ? '–' : r.to),
    h('td', null, r.who || ''), h('td', null, r.reason || ''), h('td', null, r.forced ? 'forced' : '')));
  SL.clear(main);
  SL.append(main, [
    h('h1', null, 'Model ', m.name),
    h('div', {class: 'card'}, kv([['aliases', Object.entries(m.aliases).map(([a, v]) => h('span', {class: 'alias'}, a + ' → v' + v))],
      ['versions', m.versions_total], ['created', SL.time(m.created)], ['updated', SL.time(m.updated)]])),
    SL.modelActions ? SL.modelActions(m) : null,
    h('h2', null, 'Versions'),
    table([{text: 'version', class: 'num'}, 'aliases', 'gates', 'algorithm', 'bundle', 'run', 'created', 'by', 'tags'], rows, {id: 'versions-table'}),
    SL.pager(page, (o) => SL.go(['models', m.name], {offset: o})),
    h('h2', null, 'Metrics side by side'),
    metricsTable(versions),
    h('h2', null, 'Promotion history'),
    hist.length ? table(['at', 'kind', 'alias', {text: 'from', class: 'num'}, {text: 'to', class: 'num'}, 'who', 'reason', ''], hist, {id: 'history-table'})
      : h('p', {class: 'muted'}, 'No alias has moved yet.'),
    h('div', {id: 'model-detail'}),
  ]);
  if (versions.length) await modelDetail(document.getElementById('model-detail'), versions[0]);
};

// The newest version's evaluation report and lineage to its data: the
// bundle's ancestors.
async function modelDetail(box, v) {
  const lin = await SL.api('artifacts/' + encodeURIComponent(v.bundle) + '/lineage').catch(() => null);
  if (!lin) return;
  const all = [];
  const walk = (a) => { all.push(a); (a.inputs || []).forEach(walk); };
  (lin.ancestors || []).forEach(walk);
  const report = all.find((a) => a.type === 'report');
  const verdict = all.find((a) => a.type === 'verdict');
  SL.append(box, [h('h2', null, 'Version ' + v.version + ': lineage to data'), SL.lineageGraph(lin, (nid) => SL.go(['artifacts', nid]))]);
  if (verdict) SL.append(box, [h('p', null, 'Gate verdict: ', SL.badge(v.verdict), ' ', SL.link('verdict ' + SL.short(verdict.id), 'artifacts', verdict.id))]);
  if (report) SL.append(box, [h('h2', null, 'Evaluation report'), SL.reportFrame(report.id)]);
}

// ---- canvas ---------------------------------------------------------------------------------

const BLOCKS = ['prediction_task', 'decisions', 'value_proposition', 'making_predictions', 'data_collection',
  'offline_evaluation', 'building_models', 'features', 'data_sources', 'live_monitoring'];

function valueNode(v) {
  if (v === null || v === undefined) return h('span', {class: 'muted'}, '(empty)');
  if (Array.isArray(v)) return h('ul', null, v.map((x) => h('li', null, typeof x === 'object' ? JSON.stringify(x) : String(x))));
  if (typeof v === 'object') return kv(Object.entries(v).map(([k, x]) => [k, typeof x === 'object' ? JSON.stringify(x) : String(x)]));
  return h('p', null, String(v));
}

P.canvas = async function (main) {
  const c = await SL.api('canvas');
  const drives = new Map((c.drives || []).map((d) => [d.block, d]));
  const blocks = (c.canvas && c.canvas.blocks) || {};
  const board = h('div', {class: 'canvas-board', id: 'canvas-board'}, BLOCKS.map((b) => {
    const blk = blocks[b] || {};
    const d = drives.get(b);
    return h('div', {class: 'block b-' + b + (d ? ' acted' : '') + (blk.empty || !blk.given ? ' empty' : ''), 'data-block': b},
      h('h3', null, b.replace(/_/g, ' ')),
      blk.given ? valueNode(blk.value) : h('span', {class: 'muted'}, '(not filled in)'),
      d ? h('div', {class: 'drives'}, h('strong', null, 'drives: ' + d.drives.join(', ')), h('div', null, d.summary), h('div', {class: 'muted'}, d.effect)) : null);
  }));
  const issues = [...(c.errors || []).map((e) => ['error', e]), ...(c.warnings || []).map((e) => ['warning', e])];
  SL.clear(main);
  SL.append(main, [
    h('h1', null, 'ML canvas ', c.valid ? SL.badge('passed') : SL.badge('failed')),
    h('p', {class: 'muted'}, c.file + ' · blocks with a blue edge drive sluice (what `sluice canvas check` reports)'),
    issues.length ? table(['', 'where', 'message'], issues.map(([k, e]) => h('tr', null, h('td', null, k),
      h('td', {class: 'mono'}, e.file + ':' + e.line + ':' + e.col), h('td', null, e.message)))) : null,
    board,
    (c.pipelines || []).length ? h('p', {class: 'muted'}, 'Pipelines: ' + c.pipelines.join(', ')) : null,
  ]);
};
})();

// ---- actions (for the roles that may take them; the server decides) ------------------------
(function () {
'use strict';
const SL = window.SL;
const h = (...a) => SL.h(...a);

function result(box, ok, text) {
  const r = box.querySelector('#act-result') || box.appendChild(h('p', {id: 'act-result'}));
  r.className = ok ? 'notice' : 'error';
  r.textContent = text;
}

// A small form in box: fields [{id, label, value, type}], go(values) posts.
function dialog(box, title, fields, go) {
  const old = box.querySelector('.dialog');
  if (old) old.remove();
  const inputs = fields.map((f) => h('label', null, f.label, ' ',
    f.type === 'checkbox' ? h('input', {id: f.id, type: 'checkbox'}) : h('input', {id: f.id, value: f.value || '', size: f.size || 12})));
  const form = h('form', {class: 'dialog', onsubmit: async (ev) => {
    ev.preventDefault();
    const vals = {};
    for (const f of fields) {
      const el = form.querySelector('#' + f.id);
      vals[f.key] = f.type === 'checkbox' ? el.checked : el.value.trim();
    }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const msg = await go(vals);
      result(box, true, msg);
      setTimeout(() => SL.route(), 600);
    } catch (e) {
      result(box, false, e.message);
    } finally {
      btn.disabled = false;
    }
  }}, h('strong', null, title), ' ', inputs,
  h('button', {type: 'submit', class: 'primary', id: fields[0].id.split('-')[0] + '-go'}, title));
  box.appendChild(form);
}

SL.modelActions = function (m) {
  const acts = (SL.info && SL.info.actions) || [];
  if (!acts.length) return null;
  const base = 'models/' + encodeURIComponent(m.name) + '/';
  const box = h('div', {class: 'card actions', id: 'model-actions'});
  const newest = m.versions.length ? m.versions[m.versions.length - 1].version : '';
  SL.append(box, [h('strong', null, 'Actions'),
    h('button', {type: 'button', id: 'act-promote', onclick: () => dialog(box, 'Promote', [
      {id: 'promote-version', key: 'version', label: 'version', value: newest, size: 6},
      {id: 'promote-alias', key: 'alias', label: 'to alias', value: 'production'},
      {id: 'promote-reason', key: 'reason', label: 'reason', size: 30},
      {id: 'promote-force', key: 'force', label: 'force', type: 'checkbox'}],
    async (v) => {
      const r = await SL.api(base + 'promote', {body: {version: /^\d+$/.test(v.version) ? Number(v.version) : v.version,
        alias: v.alias, reason: v.reason || null, force: v.force}});
      return r.moved === false ? v.alias + ' already points at version ' + v.version
        : v.alias + ' now points at version ' + r.to;
    })}, 'Promote…'),
    h('button', {type: 'button', id: 'act-rollback', onclick: () => dialog(box, 'Roll back', [
      {id: 'rollback-alias', key: 'alias', label: 'alias', value: 'production'},
      {id: 'rollback-reason', key: 'reason', label: 'reason', size: 30}],
    async (v) => {
      const r = await SL.api(base + 'rollback', {body: {alias: v.alias, reason: v.reason || null}});
      return v.alias + (r.to === null ? ' removed' : ' back at version ' + r.to);
    })}, 'Roll back…'),
    h('button', {type: 'button', id: 'act-tag', onclick: () => dialog(box, 'Tag', [
      {id: 'tag-version', key: 'version', label: 'version', value: newest, size: 6},
      {id: 'tag-key', key: 'key', label: 'key'}, {id: 'tag-value', key: 'value', label: 'value (empty: remove)'}],
    async (v) => {
      await SL.api(base + 'tag', {body: {version: /^\d+$/.test(v.version) ? Number(v.version) : v.version,
        key: v.key, value: v.value === '' ? null : v.value}});
      return 'tagged';
    })}, 'Tag…'),
    h('span', {class: 'muted'}, 'your role may: ' + acts.join(', '))]);
  return box;
};

SL.runActions = function (pipelines) {
  const acts = (SL.info && SL.info.actions) || [];
  if (!acts.includes('run')) return null;
  const box = h('div', {class: 'card actions', id: 'run-actions'});
  const list = h('datalist', {id: 'pipeline-files'}, (pipelines || []).map((p) => h('option', {value: p})));
  SL.append(box, [list, h('button', {type: 'button', id: 'act-run', onclick: () => {
    dialog(box, 'Start', [{id: 'start-pipeline', key: 'pipeline', label: 'pipeline file', value: (pipelines || [])[0] || '', size: 24}],
      async (v) => {
        const r = await SL.api('runs', {body: {pipeline: v.pipeline}});
        setTimeout(() => SL.go(['runs', r.run]), 300);
        return 'run ' + r.run + ' started';
      });
    box.querySelector('#start-pipeline').setAttribute('list', 'pipeline-files');
  }}, 'Start a run…')]);
  return box;
};
})();
