// The pages' client for AppSync: queries over HTTP (POST with x-api-key) and
// subscriptions over AppSync's real-time WebSocket protocol (subprotocol graphql-ws).
// The same code talks to `burnbar demo` (which speaks that protocol) and to AppSync in
// AWS: only config.json differs. No library, no build step, nothing from a CDN: a
// broadcast must not depend on a third party being up.

/** Reads config.json beside the page; URL parameters override it (race, key, api). */
export async function loadConfig() {
  const params = new URLSearchParams(location.search);
  let cfg = {};
  try {
    const r = await fetch('config.json', { cache: 'no-store' });
    if (r.ok) cfg = await r.json();
  } catch (e) {
    // No config.json: the URL parameters must say everything.
  }
  const base = location.href;
  const api = allowedEndpoint(params.get('api'), cfg, base);
  const realtime = allowedEndpoint(params.get('realtime'), cfg, base);
  for (const [name, given, ok] of [['api', params.get('api'), api], ['realtime', params.get('realtime'), realtime]]) {
    if (given && !ok) {
      console.warn(`burnbar: ?${name}= ignored: ${given} is neither this page's server nor an API its config.json names (apiOrigins)`);
    }
  }
  const graphqlUrl = new URL(api || cfg.graphqlUrl || '/graphql', base).href;
  return {
    graphqlUrl,
    realtimeUrl: realtimeUrlFor(graphqlUrl, realtime || cfg.realtimeUrl),
    apiKey: params.get('key') || cfg.apiKey || '',
    raceId: params.get('race') || cfg.raceId || null,
  };
}

/**
 * A `?api=` or `?realtime=` parameter, if the page may follow it: to its own server (the
 * page's host), to the host of its config.json's `graphqlUrl` or `realtimeUrl` (AppSync's
 * real-time host of that API included), or to a host config.json lists in `apiOrigins`.
 * Anything else is `null` (the page keeps its configuration): a crafted link must not put
 * another server's numbers on air under the broadcaster's page and key. `base` is the
 * page's address.
 */
export function allowedEndpoint(value, cfg, base) {
  if (!value) return null;
  const hostOf = (u) => {
    try {
      return new URL(u, base).host;
    } catch (e) {
      return null;
    }
  };
  const target = hostOf(value);
  if (!target) return null;
  const allowed = new Set([new URL(base).host]);
  for (const u of [cfg.graphqlUrl, cfg.realtimeUrl, ...(Array.isArray(cfg.apiOrigins) ? cfg.apiOrigins : [])]) {
    const h = typeof u === 'string' ? hostOf(u) : null;
    if (h) {
      allowed.add(h);
      allowed.add(h.replace('.appsync-api.', '.appsync-realtime-api.'));
    }
  }
  return allowed.has(target) ? new URL(value, base).href : null;
}

/**
 * The real-time endpoint: given, or AppSync's rule (appsync-api becomes
 * appsync-realtime-api; a custom domain serves it at /graphql/realtime).
 */
export function realtimeUrlFor(graphqlUrl, given) {
  const u = new URL(given || graphqlUrl, location.href);
  u.protocol = u.protocol === 'https:' || u.protocol === 'wss:' ? 'wss:' : 'ws:';
  if (!given) {
    if (u.hostname.includes('.appsync-api.')) {
      u.hostname = u.hostname.replace('.appsync-api.', '.appsync-realtime-api.');
    } else {
      u.pathname = u.pathname.replace(/\/?$/, '/realtime');
    }
  }
  return u.href;
}

let idCounter = 0;
function newId() {
  idCounter += 1;
  return `${Date.now().toString(36)}-${idCounter}`;
}

/**
 * One connection to the API. `onStatus(state, detail)` hears 'connecting',
 * 'connected', 'lost' and 'error'. Subscriptions survive reconnects: each is started
 * again on every new connection and its `onStart` runs again (to re-sync a snapshot).
 */
export class AppSync {
  constructor(cfg, onStatus = () => {}) {
    this.cfg = cfg;
    this.onStatus = onStatus;
    this.subs = new Map();
    this.ws = null;
    this.acked = false;
    this.retry = 0;
    this.kaTimer = null;
    this.timeoutMs = 300000;
    this.connections = 0;
    this.connect();
  }

  /** Runs a query; resolves to its data, rejects with the GraphQL errors' messages. */
  async query(query, variables = {}) {
    const r = await fetch(this.cfg.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': this.cfg.apiKey },
      body: JSON.stringify({ query, variables }),
    });
    const body = await r.json();
    if (body.errors && body.errors.length) {
      throw new Error(body.errors.map((e) => `${e.errorType || 'Error'}: ${e.message}`).join('; '));
    }
    return body.data;
  }

  /** Subscribes; `onData(data, extensions)` gets each publication. Returns its id. */
  subscribe(query, variables, { onData, onStart = () => {}, onError = () => {} }) {
    const id = newId();
    this.subs.set(id, { query, variables, onData, onStart, onError });
    if (this.acked) this.start(id);
    return id;
  }

  unsubscribe(id) {
    this.subs.delete(id);
    if (this.acked) this.send({ type: 'stop', id });
  }

  send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  start(id) {
    const s = this.subs.get(id);
    this.send({
      id,
      type: 'start',
      payload: {
        data: JSON.stringify({ query: s.query, variables: s.variables }),
        extensions: {
          authorization: { host: new URL(this.cfg.graphqlUrl).host, 'x-api-key': this.cfg.apiKey },
        },
      },
    });
  }

  connect() {
    this.onStatus('connecting');
    const header = btoa(JSON.stringify({
      host: new URL(this.cfg.graphqlUrl).host,
      'x-api-key': this.cfg.apiKey,
    }));
    const url = `${this.cfg.realtimeUrl}?header=${encodeURIComponent(header)}&payload=e30%3D`;
    let ws;
    try {
      ws = new WebSocket(url, ['graphql-ws']);
    } catch (e) {
      this.lost(String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      this.handle(m);
    };
    ws.onclose = () => {
      if (this.ws === ws) this.lost('connection closed');
    };
  }

  handle(m) {
    const sub = m.id ? this.subs.get(m.id) : undefined;
    switch (m.type) {
      case 'connection_ack':
        this.acked = true;
        this.retry = 0;
        this.connections += 1;
        this.timeoutMs = (m.payload && m.payload.connectionTimeoutMs) || 300000;
        this.armKa();
        this.onStatus('connected');
        for (const id of this.subs.keys()) this.start(id);
        break;
      case 'ka':
        this.armKa();
        break;
      case 'start_ack':
        if (sub) sub.onStart();
        break;
      case 'data':
        if (sub) sub.onData(m.payload.data, m.payload.extensions || null);
        break;
      case 'error':
        if (sub) sub.onError(m.payload && m.payload.errors);
        else console.warn('AppSync error', m.payload);
        break;
      case 'connection_error':
        this.onStatus('error', JSON.stringify(m.payload && m.payload.errors));
        this.ws.close();
        break;
      default:
        break;
    }
  }

  /** No `ka` within the server's timeout: the link is dead even if the socket is not. */
  armKa() {
    clearTimeout(this.kaTimer);
    this.kaTimer = setTimeout(() => {
      if (this.ws) this.ws.close();
      this.lost('no keep-alive from the server');
    }, this.timeoutMs);
  }

  lost(why) {
    clearTimeout(this.kaTimer);
    const ws = this.ws;
    this.ws = null;
    this.acked = false;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
    this.onStatus('lost', why);
    // Back off from 250 ms to 5 s, with jitter so that many screens do not reconnect
    // in step after an outage.
    const base = Math.min(5000, 250 * 2 ** this.retry);
    this.retry += 1;
    setTimeout(() => this.connect(), base * (0.5 + Math.random() / 2));
  }
}
