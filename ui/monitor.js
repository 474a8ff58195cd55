// sluice web UI: the monitoring pages. What `sluice monitor report` recorded
// (one row per evaluated window of a model's traffic, its numbers as named
// series) drawn as small SVG line charts, and the loop's events (`sluice
// monitor events`) with the acknowledgement of alerts.
//
// A chart is an <svg class="chart"> with one <polyline> per series and a
// <circle class="pt"> per point that has a value (a window where a number
// could not be measured is a gap, not a zero); the x axis is the window's
// order, labelled with the first and last window's time.
(function () {
'use strict';

const SL = window.SL;
const P = SL.pages;
const h = (...a) => SL.h(...a);
const s = (...a) => SL.svg(...a);

const CW = 300, CH = 120, PL = 46, PR = 8, PT = 8, PB = 20;
const COLOURS = ['#0b6bcb', '#cf222e', '#1a7f37', '#bf8700', '#6f42c1', '#57606a'];
const BAND = '#9aa4af'; // an estimate's interval
const WINDOWS = 100;   // windows on a page of charts
const EVENTS = 20;     // events on a page of the table

// series: [{name, values: [number|null per window]}]; windows: the page's windows.
SL.lineChart = function (title, windows, series, opts) {
  opts = opts || {};
  const all = series.flatMap((x) => x.values).filter((v) => typeof v === 'number' && isFinite(v));
  const box = h('figure', {class: 'chart-box', 'data-chart': opts.id || title},
    h('figcaption', null, title));
  if (!all.length) {
    box.appendChild(h('p', {class: 'muted'}, 'no values yet'));
    return box;
  }
  let lo = Math.min(...all), hi = Math.max(...all);
  if (opts.zero) lo = Math.min(lo, 0);
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  const n = windows.length;
  const x = (i) => PL + (n > 1 ? (i * (CW - PL - PR)) / (n - 1) : (CW - PL - PR) / 2);
  const y = (v) => PT + (CH - PT - PB) * (1 - (v - lo) / (hi - lo));
  const svg = s('svg', {class: 'chart', viewBox: '0 0 ' + CW + ' ' + CH, width: CW, height: CH,
    role: 'img', 'aria-label': title});
  SL.append(svg, [
    s('line', {class: 'axis', x1: PL, y1: PT, x2: PL, y2: CH - PB}),
    s('line', {class: 'axis', x1: PL, y1: CH - PB, x2: CW - PR, y2: CH - PB}),
    s('text', {class: 'tick', x: PL - 4, y: PT + 8, 'text-anchor': 'end'}, SL.num(hi)),
    s('text', {class: 'tick', x: PL - 4, y: CH - PB, 'text-anchor': 'end'}, SL.num(lo)),
    s('text', {class: 'tick', x: PL, y: CH - 4}, SL.time(windows[0].at).slice(5, 16)),
    n > 1 ? s('text', {class: 'tick', x: CW - PR, y: CH - 4, 'text-anchor': 'end'},
      SL.time(windows[n - 1].at).slice(5, 16)) : null,
  ]);
  if (opts.line !== undefined && opts.line >= lo && opts.line <= hi)
    svg.appendChild(s('line', {class: 'bound', x1: PL, x2: CW - PR, y1: y(opts.line), y2: y(opts.line)}));
  series.forEach((ser, k) => {
    const colour = ser.colour || COLOURS[k % COLOURS.length];
    // A gap in the values breaks the line.
    let run = [];
    const flush = () => {
      if (run.length > 1) svg.appendChild(s('polyline', {class: 'series', stroke: colour, points: run.join(' ')}));
      run = [];
    };
    ser.values.forEach((v, i) => {
      if (typeof v !== 'number' || !isFinite(v)) { flush(); return; }
      run.push(x(i).toFixed(1) + ',' + y(v).toFixed(1));
      svg.appendChild(s('circle', {class: 'pt', cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.2, fill: colour},
        s('title', null, ser.name + ' ' + SL.num(v) + ' · window ' + windows[i].seq + ' · ' + SL.time(windows[i].at))));
    });
    flush();
  });
  box.appendChild(svg);
  if (series.length > 1)
    box.appendChild(h('div', {class: 'legend'}, series.map((ser, k) =>
      h('span', null, h('i', {class: ser.colour ? 'swatch band' : 'swatch c' + (k % COLOURS.length)}), ser.name))));
  return box;
};

const val = (w, name) => {
  const v = (w.values || {})[name];
  return typeof v === 'number' ? v : null;
};

// ---- the list of monitored models ------------------------------------------------

P.monitoring = async function (main, segs, query) {
  if (segs.length) return P.monitor(main, segs[0], query);
  const q = {q: query.get('q'), offset: query.get('offset') || 0, limit: 50};
  const [page, events] = await Promise.all([SL.api('monitoring' + SL.qs(q)),
    SL.api('events' + SL.qs({kind: 'alert', limit: 10}))]);
  const rows = page.items.map((m) => h('tr', null,
    h('td', null, SL.link(m.model, 'monitoring', m.model)),
    h('td', {class: 'num'}, m.windows), h('td', null, SL.time(m.last_at)),
    h('td', {class: 'num'}, m.version || ''),
    h('td', null, m.windows ? SL.badge(m.dataset_drift ? 'drifted' : 'stable') : ''),
    h('td', {class: 'num'}, m.alerts),
    h('td', {class: 'num'}, m.unacknowledged ? h('strong', null, m.unacknowledged) : '0')));
  SL.clear(main);
  SL.append(main, [
    h('h1', null, 'Monitoring'),
    h('p', {class: 'muted'}, 'Models whose traffic `sluice monitor report` (or the loop) has evaluated.'),
    page.items.length ? table(['model', {text: 'windows', class: 'num'}, 'last window', {text: 'version', class: 'num'},
      'dataset drift', {text: 'alerts', class: 'num'}, {text: 'not acknowledged', class: 'num'}], rows, {id: 'monitored-table'})
      : h('p', {class: 'muted'}, 'No model has been monitored yet: serve it, then run sluice monitor report --model NAME.'),
    SL.pager(page, (offset) => SL.go(['monitoring'], {q: q.q, offset})),
    h('h2', null, 'Latest alerts'),
    eventsTable(events.items, true),
  ]);
};

function table(head, rows, opts) {
  return h('table', opts || null,
    h('thead', null, h('tr', null, head.map((c) => h('th', typeof c === 'object' ? {class: c.class} : null, typeof c === 'object' ? c.text : c)))),
    h('tbody', null, rows));
}

// What an event says, in a few words: its rule and value, its trigger, or its reason.
function summary(e) {
  const d = e.detail || {};
  if (e.kind === 'alert' || e.kind === 'resolved') {
    const bound = d.above !== undefined ? ' > ' + SL.num(d.above) : d.below !== undefined ? ' < ' + SL.num(d.below) : '';
    return (d.rule || '') + ': ' + (d.metric || '') + ' = ' + SL.num(d.value) + bound + (d.severity ? ' (' + d.severity + ')' : '');
  }
  const keys = ['trigger', 'reason', 'evidence', 'verdict', 'error', 'version', 'message'].filter((k) => d[k] !== undefined);
  return keys.map((k) => k + ': ' + (typeof d[k] === 'object' ? JSON.stringify(d[k]) : String(d[k]))).join(' · ').slice(0, 300);
}

function ackCell(e) {
  if (e.kind !== 'alert') return '';
  if (e.ack) return h('span', {class: 'acked'}, 'acknowledged by ' + e.ack.by + ' · ' + SL.time(e.ack.at) + (e.ack.note ? ' · ' + e.ack.note : ''));
  if (!SL.info || !SL.info.user && !(SL.info.actions || []).length) return h('span', {class: 'muted'}, 'not acknowledged');
  const cell = h('span', {class: 'ack-box'});
  const note = h('input', {class: 'ack-note', placeholder: 'note', size: 14});
  const btn = h('button', {type: 'button', class: 'ack', 'data-seq': e.seq, onclick: async () => {
    btn.disabled = true;
    try {
      await SL.api('events/' + e.seq + '/ack', {body: {note: note.value.trim() || null}});
      SL.route();
    } catch (err) {
      SL.clear(cell).appendChild(h('span', {class: 'error ack-error'}, err.message));
    }
  }}, 'Acknowledge');
  SL.append(cell, [note, ' ', btn]);
  return cell;
}

function eventsTable(items, withModel) {
  if (!items.length) return h('p', {class: 'muted'}, 'No events.');
  return table([{text: '#', class: 'num'}, 'at', 'kind', withModel ? 'model' : null, 'what', 'run', 'acknowledged'].filter((c) => c !== null),
    items.map((e) => h('tr', {'data-seq': e.seq, class: 'ev-' + e.kind},
      h('td', {class: 'num'}, e.seq), h('td', null, SL.time(e.at)), h('td', null, SL.badge(e.kind)),
      withModel ? h('td', null, e.model ? SL.link(e.model, 'monitoring', e.model) : '') : null,
      h('td', null, summary(e)),
      h('td', {class: 'mono'}, e.run ? SL.link(SL.short(e.run), 'runs', e.run) : ''),
      h('td', null, ackCell(e)))), {id: 'events-table'});
}

// ---- one model ------------------------------------------------------------------------

P.monitor = async function (main, model, query) {
  const offset = Number(query.get('offset') || 0);
  const eoff = Number(query.get('events') || 0);
  const [m, ev] = await Promise.all([
    SL.api('monitoring/' + encodeURIComponent(model) + SL.qs({offset, limit: WINDOWS})),
    SL.api('events' + SL.qs({model, offset: eoff, limit: EVENTS}))]);
  const ws = m.items;
  const last = ws.length ? ws[ws.length - 1] : null;
  const rep = m.report || {};
  const series = (name) => ws.map((w) => val(w, name));
  const names = [...new Set(ws.flatMap((w) => Object.keys(w.values || {})))];
  const charts = [];
  const drift = [];

  if (ws.length) {
    charts.push(SL.lineChart('Drift share (features drifted)', ws, [{name: 'drift share', values: series('drift_share')}], {zero: true, id: 'drift_share'}));
    charts.push(SL.lineChart('Requests per window', ws, [{name: 'requests', values: series('requests')},
      {name: 'errors', values: series('errors')}], {zero: true, id: 'volume'}));
    charts.push(SL.lineChart('Latency (ms)', ws, [
      {name: 'p50', values: series('latency_p50_us').map((v) => (v === null ? null : v / 1000))},
      {name: 'p99', values: series('latency_p99_us').map((v) => (v === null ? null : v / 1000))}], {zero: true, id: 'latency'}));
    // Live metrics (from feedback labels) beside their label-free estimates.
    const metrics = [...new Set(names.filter((n) => /^(live|estimated)\.[^.]+$/.test(n) && n !== 'estimated.reconciled_error')
      .map((n) => n.split('.')[1]))].sort();
    for (const k of metrics) {
      const sers = [];
      if (names.includes('live.' + k)) sers.push({name: 'live', values: series('live.' + k)});
      if (names.includes('estimated.' + k)) sers.push({name: 'estimated', values: series('estimated.' + k)});
      if (names.includes('estimated.' + k + '.lower')) sers.push({name: 'lower', values: series('estimated.' + k + '.lower'), colour: BAND});
      if (names.includes('estimated.' + k + '.upper')) sers.push({name: 'upper', values: series('estimated.' + k + '.upper'), colour: BAND});
      charts.push(SL.lineChart(k, ws, sers, {id: 'metric-' + k}));
    }
    // Drift per feature: the statistic of each feature's test over time,
    // the features that drift most in the newest window first.
    const feats = (rep.features || []).slice().sort((a, b) => (b.drift - a.drift) || ((b.statistic || 0) - (a.statistic || 0)));
    const shown = query.get('features') === 'all' ? feats : feats.slice(0, 12);
    for (const f of shown)
      drift.push(SL.lineChart(f.name + ' (' + f.test + ')', ws, [{name: 'statistic', values: series('drift.' + f.name + '.statistic')}],
        {zero: true, id: 'drift-' + f.name}));
    if (shown.length < feats.length)
      drift.push(h('p', null, h('a', {href: '#/monitoring/' + encodeURIComponent(model) + SL.qs({features: 'all'})},
        'all ' + feats.length + ' features')));
  }
  const featRows = (rep.features || []).map((f) => h('tr', {class: f.drift ? 'drifted' : null},
    h('td', null, f.name), h('td', null, f.test || ''), h('td', {class: 'num'}, SL.num(f.statistic)),
    h('td', {class: 'num'}, SL.num(f.p_value)), h('td', {class: 'num'}, SL.num(f.psi)),
    h('td', null, f.drift ? SL.badge('drifted') : '')));
  const evPage = {total: ev.total, offset: ev.offset, limit: ev.limit, items: ev.items};
  SL.clear(main);
  SL.append(main, [
    h('h1', null, 'Monitoring ', model),
    h('div', {class: 'card'}, kv([
      ['windows', m.total], ['newest window', last ? SL.time(last.at) : 'none yet'],
      ['version', last ? last.version : null], ['requests', last ? last.requests : null],
      ['dataset drift', last ? SL.badge(last.dataset_drift ? 'drifted' : 'stable') : null],
      ['drift share', rep.drift_share === undefined ? null : SL.num(rep.drift_share)],
      ['registry', SL.link('model ' + model, 'models', model)]])),
    ws.length ? null : h('p', {class: 'muted'}, 'No window recorded: sluice monitor report --model ' + model + ' records one.'),
    ws.length ? h('h2', null, 'Over the last ' + ws.length + ' windows') : null,
    h('div', {class: 'charts', id: 'monitor-charts'}, charts),
    m.total > ws.length ? SL.pager({total: m.total, offset: m.offset, limit: m.limit, items: ws},
      (o) => SL.go(['monitoring', model], {offset: o})) : null,
    drift.length ? h('h2', null, 'Drift per feature') : null,
    h('div', {class: 'charts', id: 'drift-charts'}, drift),
    featRows.length ? h('h2', null, 'The newest window, feature by feature') : null,
    featRows.length ? h('div', {class: 'scroll'}, table(['feature', 'test', {text: 'statistic', class: 'num'},
      {text: 'p-value', class: 'num'}, {text: 'PSI', class: 'num'}, 'drift'], featRows, {id: 'features-table'})) : null,
    h('h2', null, 'Alerts and loop events'),
    eventsTable(ev.items, false),
    ev.total > ev.items.length || ev.offset ? SL.pager(evPage, (o) => SL.go(['monitoring', model], {offset: offset || null, events: o})) : null,
  ]);
};

function kv(pairs) {
  return h('dl', {class: 'kv'}, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '')
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}
})();
