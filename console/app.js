// The operator console: signs in with the admin token, then renders the router's snapshots as they
// stream in from /console/events. Data goes into the page only as text (textContent), never as markup.
const TOKEN_KEY = 'llm-router-admin-token';
const RETRY_MS = 2000;

const $ = (id) => document.getElementById(id);
let stream = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function signedOut(message) {
  stream?.abort();
  stream = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('board').hidden = true;
  $('sign-out').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('status').textContent = 'signed out';
}

function signedIn() {
  $('login').hidden = true;
  $('board').hidden = false;
  $('sign-out').hidden = false;
  follow();
}

/** Reads the server-sent events of /console/events from a fetch stream (EventSource cannot send the token). */
async function follow() {
  const controller = new AbortController();
  stream = controller;
  try {
    const res = await fetch('/console/events', { headers: { authorization: `Bearer ${token()}` }, signal: controller.signal, cache: 'no-store' });
    if (res.status === 401) return signedOut('The token was not accepted.');
    if (!res.ok) throw new Error(`${res.status} ${(await res.json().catch(() => ({}))).error ?? res.statusText}`);
    $('status').textContent = 'live';
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end;
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (data !== '') render(JSON.parse(data));
      }
    }
    throw new Error('the stream ended');
  } catch (err) {
    if (controller.signal.aborted) return;
    $('status').textContent = `reconnecting (${err.message})`;
    setTimeout(() => stream === controller && follow(), RETRY_MS);
  }
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fill(tableId, rows) {
  $(tableId).tBodies[0].replaceChildren(...rows);
}

function row(cells, attributes = {}) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(attributes)) tr.setAttribute(k, v);
  tr.append(...cells);
  return tr;
}

const usd = (n) => `$${n < 0.01 && n > 0 ? n.toFixed(6) : n.toFixed(4)}`;
const ms = (n) => (n === null ? '–' : `${Math.round(n)} ms`);
const time = (t) => new Date(t).toISOString().slice(11, 19);

function health(d, now) {
  if (d.unhealthy !== null) return { state: 'unhealthy', text: `unhealthy (${d.unhealthy})` };
  if (d.load.coolingUntilMs > now) return { state: 'cooling', text: `cooling down ${Math.ceil((d.load.coolingUntilMs - now) / 1000)} s` };
  return { state: 'healthy', text: 'healthy' };
}

function meter(fraction) {
  const td = document.createElement('td');
  const m = document.createElement('meter');
  Object.assign(m, { min: 0, max: 1, low: 0.5, high: 0.8, optimum: 0, value: Math.min(1, fraction) });
  td.append(m, fraction > 0 && fraction < 0.01 ? ' <1%' : ` ${Math.round(fraction * 100)}%`);
  return td;
}

/** `pick → fallbacks; excluded a:reason` from the decision record of the request log line. */
function decisionText(routing) {
  if (routing === null) return 'not routed';
  if (routing.outcome !== 'routed') return routing.outcome;
  const parts = [`${routing.group} (${routing.strategy}): ${routing.pick}`];
  if (routing.fallbacks?.length) parts.push(`then ${routing.fallbacks.join(', ')}`);
  if (routing.excluded?.length) parts.push(`excluded ${routing.excluded.map((e) => `${e.deployment}:${e.reason}`).join(', ')}`);
  if (routing.fallback_from) parts.push(`fallback from ${routing.fallback_from}`);
  return parts.join('; ');
}

function attemptsText(routing) {
  const attempts = routing?.attempts ?? [];
  return attempts.length === 0 ? '–' : attempts.map((a) => `${a.deployment}:${a.status ?? 'no response'} ${a.result}`).join(' → ');
}

function render(s) {
  fill(
    'deployments',
    s.deployments.map((d) => {
      const h = health(d, s.now);
      return row(
        [
          cell(d.name), cell(d.provider), cell(d.groups.join(', ')), cell(h.text, `health ${h.state}`),
          cell(String(d.load.inFlight), 'num'), cell(String(d.load.requestsInWindow), 'num'), cell(String(d.load.tokensInWindow), 'num'),
          cell(ms(d.load.latencyMs), 'num'), cell(ms(d.load.ttftMs), 'num'),
        ],
        { 'data-deployment': d.name, 'data-health': h.state },
      );
    }),
  );
  fill(
    'budgets',
    s.budgets.map((b) =>
      row([cell(b.owner), cell(b.window), cell(usd(b.spent_usd), 'num'), cell(usd(b.limit_usd), 'num'), meter(b.limit_usd > 0 ? b.spent_usd / b.limit_usd : 0), cell(b.resets_at === null ? 'sliding' : `${b.resets_at.slice(0, 16).replace('T', ' ')} UTC`)], {
        'data-budget': `${b.owner} ${b.window}`,
        'data-spent': String(b.spent_usd),
      }),
    ),
  );
  fill(
    'spend',
    Object.entries(s.spend).flatMap(([dimension, totals]) =>
      totals.map((t) =>
        row([cell(dimension), cell(t.id), cell(String(t.requests), 'num'), cell(String(t.totalTokens), 'num'), cell(usd(t.costNanos / 1e9), 'num')], {
          'data-spender': `${dimension}:${t.id}`,
          'data-cost-nanos': String(t.costNanos),
        }),
      ),
    ),
  );
  fill(
    'recent',
    s.recent.map((r) =>
      row(
        [
          cell(time(r.atMs)), cell(r.keyId), cell(r.requestedModel), cell(decisionText(r.routing), 'reason'), cell(attemptsText(r.routing), 'reason'),
          cell(r.deployment), cell(String(r.status), r.status >= 400 ? 'num status-error' : 'num'), cell(ms(r.latencyMs), 'num'), cell(usd(r.costNanos / 1e9), 'num'),
        ],
        { 'data-request-id': r.requestId },
      ),
    ),
  );
  $('status').textContent = `live · ${time(s.now)} UTC`;
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const presented = $('token').value;
  const res = await fetch('/console/state', { headers: { authorization: `Bearer ${presented}` }, cache: 'no-store' });
  if (res.status === 401) return ($('login-error').textContent = 'The token was not accepted.');
  if (!res.ok) return ($('login-error').textContent = `The router answered ${res.status}.`);
  sessionStorage.setItem(TOKEN_KEY, presented);
  $('token').value = '';
  $('login-error').textContent = '';
  render(await res.json());
  signedIn();
});

$('sign-out').addEventListener('click', () => signedOut(''));

if (token() !== null) signedIn();
