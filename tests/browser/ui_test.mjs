// Browser tests of the web UI (`sluice ui`), in headless Chromium driven by
// playwright-core. tests/integration/test_ui.sh builds the project, starts
// the server and runs this with a JSON plan:
//
//   node ui_test.mjs PLAN.json
//
//   { "base": "http://127.0.0.1:PORT", "shots": DIR,
//     "run": RUN-ID, "steps": [names], "dataset": ARTIFACT-ID, "model": NAME,
//     "xss": { "run": RUN-ID, "dataset": ARTIFACT-ID, "text": "<img ...>" },
//     "roles": { "ml_engineer": TOKEN, "data_scientist": TOKEN, "sre": TOKEN } | null,
//     "alert": EVENT-SEQ (an alert of the model to acknowledge) | absent,
//     "docshots": DIR (screenshots for docs/img) | absent }
//
// Every check that fails saves a screenshot of the page in DIR (named
// after the check) and the script exits 1 after the last check.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = require(path.join(here, 'node_modules', 'playwright-core'));

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
mkdirSync(plan.shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});

let failures = 0;
const problems = [];   // console errors and uncaught exceptions of the current page
const dialogs = [];    // any alert() at all is a script that should not have run

async function newPage(token) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  // Sandboxed frames (the report) have no storage: only the page gets the token.
  if (token) await ctx.addInitScript((t) => { try { sessionStorage.setItem('sluice-token', t); } catch (e) { /* a sandboxed frame */ } }, token);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('exception: ' + e.message));
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  return page;
}

async function check(page, name, fn) {
  problems.length = 0;
  try {
    await fn();
    if (problems.length) throw new Error(problems.join('\n'));
    if (dialogs.length) throw new Error('a script ran: alert(' + dialogs.join(', ') + ')');
    console.log('ok   ' + name);
  } catch (e) {
    failures++;
    const shot = path.join(plan.shots, name.replace(/[^A-Za-z0-9_-]+/g, '_') + '.png');
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log('FAIL ' + name + ': ' + e.message.split('\n').slice(0, 6).join('\n     ') + '\n     screenshot: ' + shot);
  }
}

// Opens a page of the UI and waits until its heading is drawn.
async function open(page, hash, heading) {
  await page.goto(plan.base + '/#/' + hash);
  await page.waitForFunction((h) => document.body.dataset.hash === h &&
    document.body.dataset.state !== 'loading', '#/' + hash, { timeout: 10000 });
  await page.waitForSelector('main h1', { timeout: 10000 });
  if (heading) {
    const h1 = await page.textContent('main h1');
    if (!h1.includes(heading)) throw new Error(`heading '${h1}', expected '${heading}'`);
  }
  const err = await page.$('main .error');
  if (err) throw new Error('the page shows an error: ' + (await err.textContent()));
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

const token = plan.roles ? plan.roles.ml_engineer : null;
const page = await newPage(token);

// ---- every page renders without console errors ----
await check(page, 'runs page', async () => {
  await open(page, 'runs', 'Runs');
  const rows = await page.$$('#runs-table tbody tr');
  expect(rows.length > 0, 'no run listed');
});
await check(page, 'runs filter and paging', async () => {
  await open(page, 'runs?status=completed', 'Runs');
  const st = await page.textContent('.pager-status');
  expect(/of \d+/.test(st), 'pager says ' + st);
});
await check(page, 'run page draws the DAG', async () => {
  await open(page, 'runs/' + plan.run, 'Run');
  await page.waitForSelector('#dag svg .node');
  const names = await page.$$eval('#dag svg .node', (ns) => ns.map((n) => n.getAttribute('data-id')));
  for (const s of plan.steps) expect(names.includes(s), `step '${s}' is not in the DAG (${names.join(', ')})`);
  const edges = await page.$$eval('#dag svg path.edge', (es) => es.length);
  expect(edges >= plan.steps.length - 1, 'the DAG has ' + edges + ' edges');
  // A step's details: its metrics and its log.
  await page.click(`#dag svg .node[data-id="${plan.steps[plan.steps.length - 1]}"]`);
  await page.waitForSelector('#step-panel h2');
  await page.waitForFunction(() => !document.querySelector('#step-log').textContent.startsWith('loading'));
});
await check(page, 'artifacts page', async () => {
  await open(page, 'artifacts', 'Artifacts');
  expect((await page.$$('main table tbody tr')).length > 0, 'no artifact listed');
});
await check(page, 'dataset page: schema, rows, lineage', async () => {
  await open(page, 'artifacts/' + plan.dataset, 'dataset');
  expect((await page.$$('#schema tbody tr')).length > 0, 'no schema');
  expect((await page.$$('#head tbody tr')).length > 0, 'no first rows');
  await page.waitForSelector('#lineage svg .node.n-focus');
  expect((await page.$$('#lineage svg .node')).length > 1, 'the lineage has only the artifact itself');
});
await check(page, 'models page', async () => {
  await open(page, 'models', 'Models');
  expect(await page.$(`main a[href="#/models/${plan.model}"]`), 'model not listed');
});
await check(page, 'model page: versions, metrics, history, lineage', async () => {
  await open(page, 'models/' + plan.model, 'Model');
  expect((await page.$$('#versions-table tbody tr')).length > 0, 'no versions');
  expect((await page.$$('#metrics-table tbody tr')).length > 0, 'no metrics');
  expect((await page.$$('#history-table tbody tr')).length > 0, 'no history');
  await page.waitForSelector('#model-detail svg .node', { timeout: 10000 });
  await page.waitForSelector('#model-detail iframe.report', { timeout: 10000 });
});
await check(page, 'canvas page', async () => {
  await open(page, 'canvas', 'canvas');
  expect((await page.$$('#canvas-board .block')).length === 10, 'not ten blocks');
  expect((await page.$$('#canvas-board .block.acted')).length > 0, 'no block drives anything');
});

await check(page, 'monitoring page: a drift chart has points', async () => {
  await open(page, 'monitoring', 'Monitoring');
  expect(await page.$(`#monitored-table a[href="#/monitoring/${plan.model}"]`), 'model not listed as monitored');
  await open(page, 'monitoring/' + plan.model, 'Monitoring');
  const drift = await page.$$('#drift-charts svg.chart');
  expect(drift.length > 0, 'no drift chart');
  const pts = await page.$$eval('#drift-charts svg.chart', (cs) => cs.map((c) => c.querySelectorAll('circle.pt').length));
  expect(pts.some((n) => n >= 2), 'no drift chart has two points: ' + pts.join(', '));
  expect((await page.$$('#monitor-charts svg.chart circle.pt')).length > 0, 'the volume, latency and metric charts have no point');
  expect((await page.$$('#features-table tbody tr.drifted')).length > 0, 'no feature shown drifted');
  if (plan.alert) expect(await page.$(`#events-table tr[data-seq="${plan.alert}"]`), 'the alert is not listed');
  if (plan.docshots) await page.screenshot({ path: path.join(plan.docshots, 'ui-monitoring.png'), clip: { x: 0, y: 0, width: 1370, height: 900 } });
});

// ---- user-supplied names are text, never markup ----
await check(page, 'a step named like markup runs no script', async () => {
  await open(page, 'runs/' + plan.xss.run, 'Run');
  await page.waitForSelector('#dag svg .node');
  const ids = await page.$$eval('#dag svg .node', (ns) => ns.map((n) => n.getAttribute('data-id')));
  expect(ids.includes(plan.xss.text), 'the step is not drawn under its name: ' + ids.join(', '));
  await page.click('#dag svg .node');
  await page.waitForSelector('#step-panel h2');
  expect(await page.$$eval('img', (is) => is.length) === 0, 'an <img> element was made from a name');
  await open(page, 'runs', 'Runs');
  expect((await page.textContent('#runs-table')).includes('onerror'), 'the pipeline name is not shown as text');
  await open(page, 'artifacts/' + plan.xss.dataset, 'dataset');
  expect((await page.textContent('#schema')).includes(plan.xss.text), 'the column name is not shown as text');
  await open(page, 'models/' + plan.model, 'Model');
  expect(await page.$$eval('img', (is) => is.length) === 0, 'an <img> element was made from a tag');
  await page.waitForTimeout(300); // an onerror would fire by now
});

// ---- actions by role ----
if (plan.roles) {
  await check(page, 'promote as an ML engineer', async () => {
    await open(page, 'models/' + plan.model, 'Model');
    await page.click('#act-promote');
    await page.fill('#promote-version', String(plan.promote.version));
    await page.fill('#promote-alias', plan.promote.alias);
    await page.fill('#promote-reason', 'promoted from the browser test');
    await page.click('#promote-go');
    await page.waitForSelector('#act-result.notice', { timeout: 10000 });
    await page.waitForFunction((r) => document.querySelector('#history-table') &&
      document.querySelector('#history-table').textContent.includes(r), 'promoted from the browser test',
      { timeout: 10000 });
  });
  await check(page, 'a run started from the page is drawn live', async () => {
    await open(page, 'runs', 'Runs');
    await page.click('#act-run');
    await page.fill('#start-pipeline', plan.slow.file);
    await page.click('#start-go');
    // The page moves to the new run: its steps are drawn before they run.
    await page.waitForSelector(`#dag svg .node[data-id="${plan.slow.last}"].n-pending`, { timeout: 15000 });
    await page.waitForSelector(`#dag svg .node[data-id="${plan.slow.first}"].n-running`, { timeout: 15000 });
    await page.waitForSelector(`#dag svg .node[data-id="${plan.slow.last}"].n-completed`, { timeout: 20000 });
    expect((await page.textContent('main h1')).includes('completed'), 'the run is not shown completed');
  });
  const ds = await newPage(plan.roles.data_scientist);
  if (plan.alert) {
    await check(ds, 'acknowledging an alert as a data scientist is refused', async () => {
      await open(ds, 'monitoring/' + plan.model, 'Monitoring');
      await ds.click(`#events-table tr[data-seq="${plan.alert}"] button.ack`);
      await ds.waitForSelector(`#events-table tr[data-seq="${plan.alert}"] .ack-error`, { timeout: 10000 });
      const msg = await ds.textContent(`#events-table tr[data-seq="${plan.alert}"] .ack-error`);
      expect(/may not|403/i.test(msg), 'refusal says: ' + msg);
      problems.splice(0, problems.length, ...problems.filter((p) => !/status of 403/.test(p)));
    });
    const sre = await newPage(plan.roles.sre);
    await check(sre, 'acknowledging an alert as an SRE', async () => {
      await open(sre, 'monitoring/' + plan.model, 'Monitoring');
      await sre.fill(`#events-table tr[data-seq="${plan.alert}"] input.ack-note`, 'looking into it');
      await sre.click(`#events-table tr[data-seq="${plan.alert}"] button.ack`);
      await sre.waitForFunction((seq) => {
        const c = document.querySelector(`#events-table tr[data-seq="${seq}"] .acked`);
        return c && c.textContent.includes('looking into it');
      }, plan.alert, { timeout: 10000 });
      const t = await sre.textContent(`#events-table tr[data-seq="${plan.alert}"] .acked`);
      expect(/acknowledged by \S+/.test(t), 'the row says: ' + t);
    });
  }
  await check(ds, 'the same promotion as a data scientist is refused', async () => {
    await open(ds, 'models/' + plan.model, 'Model');
    await ds.click('#act-promote');
    await ds.fill('#promote-version', String(plan.promote.version));
    await ds.fill('#promote-alias', plan.promote.alias);
    await ds.fill('#promote-reason', 'should be refused');
    // The refusal is an answer the page shows, not an error of the page:
    // the 403 the browser logs for the request is expected.
    await ds.click('#promote-go');
    await ds.waitForSelector('#act-result.error', { timeout: 10000 });
    const msg = await ds.textContent('#act-result');
    expect(/may not|403|denied/i.test(msg), 'refusal says: ' + msg);
    problems.splice(0, problems.length, ...problems.filter((p) => !/status of 403/.test(p)));
    const hist = await ds.textContent('#history-table');
    expect(!hist.includes('should be refused'), 'the refused promotion is in the history');
  });
}

await browser.close();
if (failures) {
  console.log(failures + ' browser check(s) failed');
  process.exit(1);
}
