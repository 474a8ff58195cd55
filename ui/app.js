// sluice web UI: the shell. DOM helpers, the API client, the router.
//
// Every string that comes from the API (pipeline, step, tag and column
// names, messages) reaches the page as a text node or an attribute value
// set through the DOM, never as markup: h() and svg() take children as
// text, and nothing here assigns innerHTML. The server's
// Content-Security-Policy forbids inline script as a second wall.
(function () {
'use strict';

const SL = window.SL = window.SL || {};

// h('a', {href: '#/runs', class: 'x', onclick: fn}, 'text', child, [more])
SL.h = function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  SL.attrs(el, attrs);
  SL.append(el, kids);
  return el;
};

SL.svg = function svg(tag, attrs, ...kids) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  SL.attrs(el, attrs);
  SL.append(el, kids);
  return el;
};

SL.attrs = function (el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
};

SL.append = function (el, kids) {
  for (const k of [kids].flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
  }
};

SL.clear = function (el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
};

// A link inside the UI: path segments are encoded, so a name is never a URL.
SL.link = function (text, ...segs) {
  return SL.h('a', {href: '#/' + segs.map(encodeURIComponent).join('/')}, text);
};

SL.badge = function (status) {
  const s = String(status || 'none');
  return SL.h('span', {class: 'badge st-' + s.replace(/[^a-z]/g, '')}, s);
};

SL.short = (id) => (id ? String(id).slice(0, 12) : '');
SL.time = (iso) => (iso ? String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
SL.dur = function (ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return ms + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
};
SL.num = function (v) {
  if (typeof v !== 'number') return v === null || v === undefined ? '' : String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? v.toPrecision(4).replace(/\.?0+$/, '') : v.toExponential(3);
};

// ---- the API --------------------------------------------------------------

SL.token = () => sessionStorage.getItem('sluice-token') || '';

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
SL.ApiError = ApiError;

SL.api = async function (path, opts) {
  const headers = {};
  const tok = SL.token();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  const init = {headers, cache: 'no-store'};
  if (opts && opts.body !== undefined) {
    init.method = 'POST';
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  const r = await fetch('/api/' + path, init);
  const ctype = r.headers.get('Content-Type') || '';
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    if (ctype.startsWith('application/json')) {
      try { msg = (await r.json()).error || msg; } catch (e) { /* keep the status line */ }
    }
    throw new ApiError(r.status, msg);
  }
  return ctype.startsWith('application/json') ? r.json() : r.text();
};

SL.qs = function (params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
};

SL.errorBox = function (e) {
  return SL.h('p', {class: 'error'}, e && e.message ? e.message : String(e));
};

// A sign-in box for a server that asks for a token (401).
SL.signIn = function (main, why) {
  const input = SL.h('input', {type: 'password', size: 40, placeholder: 'bearer token', autocomplete: 'off'});
  const form = SL.h('form', {class: 'card', onsubmit: (ev) => {
    ev.preventDefault();
    sessionStorage.setItem('sluice-token', input.value.trim());
    SL.route();
  }}, SL.h('h2', null, 'Sign in'), SL.h('p', {class: 'muted'}, why),
  input, ' ', SL.h('button', {class: 'primary', type: 'submit'}, 'Sign in'));
  SL.clear(main).appendChild(form);
};

// ---- paging -----------------------------------------------------------------

// Prev / next over a page answer {total, offset, limit}; go(offset) navigates.
SL.pager = function (page, go) {
  const from = page.total ? page.offset + 1 : 0;
  const to = Math.min(page.offset + page.items.length, page.total);
  return SL.h('div', {class: 'pager'},
    SL.h('button', {type: 'button', disabled: page.offset <= 0,
      onclick: () => go(Math.max(0, page.offset - page.limit))}, '‹ Newer'),
    SL.h('span', {class: 'muted pager-status'}, from + '–' + to + ' of ' + page.total),
    SL.h('button', {type: 'button', disabled: page.offset + page.limit >= page.total,
      onclick: () => go(page.offset + page.limit)}, 'Older ›'));
};

// ---- routing ------------------------------------------------------------------

SL.info = null;
SL.timer = null;

SL.parseHash = function () {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const segs = path ? path.split('/').map(decodeURIComponent) : [];
  return {segs, query: new URLSearchParams(query || '')};
};

SL.go = function (segs, query) {
  const q = query ? SL.qs(query) : '';
  location.hash = '#/' + segs.map(encodeURIComponent).join('/') + q;
};

// body[data-state] is "loading" while a page is fetched and drawn, then
// "ready" (or "error"), and body[data-hash] the route it is for: what a
// test waits on.
SL.route = async function () {
  const main = document.getElementById('main');
  const hash = location.hash;
  document.body.dataset.state = 'loading';
  document.body.dataset.hash = hash;
  if (SL.timer) { clearTimeout(SL.timer); SL.timer = null; }
  const {segs, query} = SL.parseHash();
  const page = segs[0] || 'runs';
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.dataset.page === page);
  try {
    if (!SL.info) {
      SL.info = await SL.api('info');
      document.title = 'sluice · ' + SL.info.project;
      const footer = document.getElementById('footer');
      SL.clear(footer).appendChild(document.createTextNode('sluice ' + SL.info.version + ' · project ' + SL.info.project));
      const who = document.getElementById('who');
      SL.clear(who);
      if (SL.info.user) SL.append(who, [SL.info.user.name + ' (' + SL.info.user.role.replace(/_/g, ' ') + ')']);
    }
    const fn = SL.pages[page];
    if (!fn) throw new Error('no page "' + page + '"');
    await fn(main, segs.slice(1), query);
    if (location.hash === hash) document.body.dataset.state = 'ready';
  } catch (e) {
    if (location.hash !== hash) return; // a newer route draws the page
    if (e instanceof ApiError && e.status === 401) {
      SL.info = null;
      SL.signIn(main, e.message);
    } else {
      SL.clear(main).appendChild(SL.errorBox(e));
    }
    document.body.dataset.state = 'error';
  }
};

SL.pages = SL.pages || {};
window.addEventListener('hashchange', SL.route);
SL.route();
})();
