// The commentators' dashboard: every car in running order, the race's flag and laps,
// the fuel window, the "can't make it" alert, a two-car comparison, staleness and
// connection state.
//
// Built to run for hours with 40 cars updating every 5 s: one table row per car, made
// once and updated in place; redraws batched into animation frames; every per-car
// series and every measurement in a bounded ring.

import { loadConfig, AppSync } from './appsync.js';

const UPDATE_FIELDS = `race_id car seq window_start window_end lap flag in_pit mpg_lap mpg_stint
  remaining_gal remaining_low_gal remaining_high_gal laps_to_empty save_needed_pct burn_index mode`;
const STATE_FIELDS = `race_id track ts flag stage leader_lap scheduled_laps laps_to_go fuel_window_lap
  cant_make_it_pct cars_running drivers`;
/** The alert names this many calls at most (the closest); it counts them all. */
const ALERT_NAMES = 5;
/** Laps kept per car for the comparison chart. */
const CHART_LAPS = 20;
/** Latency measurements kept (the newest). */
const LATENCY_KEEP = 5000;
/** A full tank, for the fuel bar's scale (a Cup car's cell). */
const TANK_GAL = 20;

const $ = (id) => document.getElementById(id);
const cars = new Map();
let drivers = {};
let raceState = null;
let epoch = 0;
let dirty = new Set();
let frameQueued = false;
let orderKey = '';
const arrivals = [];
const latency = [];
/** Close → message received (before rendering), to tell the network from the page. */
const received = [];
let dropped = 0;
const chartCars = { a: null, b: null };

const fmt = (v, d = 1) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));

/**
 * fuel-update-v1: a car is called ("can't make it") when it needs at least the
 * deployment's `cant_make_it_pct` (RaceState) of saving. `save_needed_pct` is null
 * outside the car's final window, so no car is called before it. No RaceState yet: no
 * call (the page has no threshold of its own).
 */
function called(u) {
  const pct = raceState ? raceState.cant_make_it_pct : null;
  return typeof pct === 'number' && u.save_needed_pct !== null && u.save_needed_pct >= pct;
}

/**
 * The header's fuel window: "fuel window opens lap N" (N the window's lap rounded up)
 * while the leader is short of it, then "window open"; nothing while RaceState has no
 * `fuel_window_lap` (fewer than three cars with a green lap, or no scheduled laps).
 */
function fuelWindowText(s) {
  if (!s || s.fuel_window_lap === null || s.fuel_window_lap === undefined) return '';
  if (s.leader_lap < s.fuel_window_lap) return `fuel window opens lap ${Math.ceil(s.fuel_window_lap)}`;
  return 'window open';
}

function cell(tr, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function newCar(car) {
  const tr = document.createElement('tr');
  tr.dataset.car = car;
  const c = {
    car, u: null, epoch: -1, arrived: 0, laps: [], stale: false, tr,
    pos: cell(tr, 'pos'), num: cell(tr, 'num'), driver: cell(tr, 'driver'), lap: cell(tr),
    mpgLap: cell(tr), mpgStint: cell(tr), fuel: cell(tr, 'fuel'), lte: cell(tr), save: cell(tr),
    bi: cell(tr, 'bi'), mode: cell(tr, 'mode'),
  };
  c.num.textContent = `#${car}`;
  c.fuel.innerHTML = '<span class="fv"></span><span class="band"><span class="range"></span><span class="mark"></span></span>';
  c.bi.innerHTML = '<span class="bibar"><span class="centre"></span><span class="fill"></span></span><span class="biv"></span>';
  c.fuelText = c.fuel.querySelector('.fv');
  c.fuelRange = c.fuel.querySelector('.range');
  c.fuelMark = c.fuel.querySelector('.mark');
  c.biFill = c.bi.querySelector('.fill');
  c.biText = c.bi.querySelector('.biv');
  cars.set(car, c);
  $('rows').appendChild(tr);
  refreshPickers();
  return c;
}

/** Keeps the mpg of each completed lap (the first update after the line is crossed). */
function recordLap(c, u) {
  const lapNo = Math.floor(u.lap);
  if (u.mpg_lap === null || lapNo < 1) return;
  const last = c.laps[c.laps.length - 1];
  if (last && lapNo <= last.lap) return;
  c.laps.push({ lap: lapNo, mpg: u.mpg_lap });
  if (c.laps.length > CHART_LAPS) c.laps.shift();
}

/**
 * Takes an update from the subscription: dropped unless its seq is above the last
 * shown for the car (fuel-update-v1), so a re-published update is harmless.
 */
function accept(u) {
  const c = cars.get(u.car) || newCar(u.car);
  if (c.u && u.seq <= c.u.seq) {
    dropped += 1;
    return;
  }
  c.u = u;
  c.epoch = epoch;
  c.arrived = performance.now();
  recordLap(c, u);
  dirty.add(c);
}

/**
 * Takes the server's snapshot after a (re)connection: the state of record. It replaces
 * what is shown, even with a lower seq (a restarted local pipeline), unless this
 * connection's stream already brought something as new.
 */
function acceptSnapshot(list) {
  for (const u of list) {
    const c = cars.get(u.car) || newCar(u.car);
    if (c.u && c.epoch === epoch && c.u.seq >= u.seq) continue;
    if (c.u && u.seq < c.u.seq) c.laps = [];
    c.u = u;
    c.epoch = epoch;
    c.arrived = performance.now();
    recordLap(c, u);
    dirty.add(c);
  }
}

function setRaceState(s) {
  if (!s) return;
  raceState = s;
  try {
    drivers = typeof s.drivers === 'string' ? JSON.parse(s.drivers) : s.drivers || {};
  } catch (e) {
    drivers = {};
  }
  for (const c of cars.values()) dirty.add(c);
  refreshPickers();
  schedule();
}

function schedule() {
  if (!frameQueued) {
    frameQueued = true;
    requestAnimationFrame(render);
  }
}

function windowMs() {
  for (const c of cars.values()) if (c.u) return c.u.window_end - c.u.window_start;
  return 5000;
}

/**
 * Greys a car with no update for more than two windows: by event time against the
 * newest window shown, or by the wall clock when the whole feed has stopped.
 */
function markStale(now) {
  const w = windowMs();
  let newest = -Infinity;
  for (const c of cars.values()) if (c.u) newest = Math.max(newest, c.u.window_end);
  for (const c of cars.values()) {
    if (!c.u) continue;
    const stale = newest - c.u.window_end > 2 * w || now - c.arrived > 2 * w;
    if (stale !== c.stale) {
      c.stale = stale;
      c.tr.classList.toggle('stale', stale);
    }
  }
}

function biColour(mode) {
  return { saving: 'var(--saving)', pushing: 'var(--pushing)', pit: 'var(--pit)', caution: 'var(--caution)' }[mode] || 'var(--normal)';
}

function paintRow(c) {
  const u = c.u;
  c.driver.textContent = drivers[c.car] || '';
  c.lap.textContent = fmt(u.lap, 1);
  c.mpgLap.textContent = fmt(u.mpg_lap, 2);
  c.mpgStint.textContent = fmt(u.mpg_stint, 2);
  c.fuelText.textContent = `${fmt(u.remaining_gal, 1)} gal`;
  c.fuelRange.style.left = `${(100 * u.remaining_low_gal) / TANK_GAL}%`;
  c.fuelRange.style.width = `${(100 * (u.remaining_high_gal - u.remaining_low_gal)) / TANK_GAL}%`;
  c.fuelMark.style.left = `${(100 * u.remaining_gal) / TANK_GAL}%`;
  c.lte.textContent = fmt(u.laps_to_empty, 1);
  c.save.textContent = u.save_needed_pct === null ? '—' : `${fmt(u.save_needed_pct, 1)} %`;
  c.tr.classList.toggle('cant', called(u));
  if (u.burn_index === null) {
    c.biFill.style.width = '0';
    c.biText.textContent = '—';
  } else {
    // 0.85 … 1.15 across the bar, drawn from the centre (the field's median).
    const x = Math.max(-1, Math.min(1, (u.burn_index - 1) / 0.15));
    c.biFill.style.left = x < 0 ? `${50 + 50 * x}%` : '50%';
    c.biFill.style.width = `${50 * Math.abs(x)}%`;
    c.biText.textContent = fmt(u.burn_index, 3);
  }
  c.biFill.style.background = biColour(u.mode);
  c.mode.textContent = u.mode;
  c.mode.className = `mode m-${u.mode}`;
}

function paintHeader() {
  const s = raceState;
  if (!s) return;
  const flag = $('flag');
  flag.textContent = s.flag.toUpperCase();
  flag.className = `flag flag-${s.flag}`;
  $('track').textContent = s.track;
  $('stage').textContent = s.stage;
  $('leader-lap').textContent = fmt(s.leader_lap, 1);
  $('scheduled').textContent = s.scheduled_laps ?? '—';
  // Whole laps, as the scoring pylon counts them: the lap under way is one to go.
  $('to-go').textContent = s.laps_to_go === null || s.laps_to_go === undefined
    ? '—' : String(Math.max(0, Math.ceil(s.laps_to_go - 1e-9)));
  $('running').textContent = s.cars_running;
  const fw = $('fuel-window');
  const text = fuelWindowText(s);
  if (fw.textContent !== text) fw.textContent = text;
  fw.classList.toggle('open', text === 'window open');
  $('cant-pct').textContent = typeof s.cant_make_it_pct === 'number' ? fmt(s.cant_make_it_pct, 0) : '—';
  $('foot-race').textContent = s.race_id;
}

/**
 * The alert: one line, only cars called in their final window (a greyed car is not
 * called on air): how many, then the closest calls (the least saving needed first, the
 * ones a driver might still make good), and how many more.
 */
function paintAlerts() {
  const calls = [];
  for (const c of cars.values()) {
    if (c.u && !c.stale && called(c.u)) calls.push({ c, pct: c.u.save_needed_pct });
  }
  calls.sort((x, y) => x.pct - y.pct || (x.c.car < y.c.car ? -1 : 1));
  const named = calls.slice(0, ALERT_NAMES);
  const box = $('alerts');
  const text = `${calls.length}|${named.map(({ c, pct }) => `${c.car}:${pct.toFixed(1)}:${drivers[c.car] || ''}`).join(',')}`;
  if (box.dataset.text === text) return;
  box.dataset.text = text;
  box.dataset.count = String(calls.length);
  if (calls.length === 0) {
    box.replaceChildren();
    return;
  }
  const head = document.createElement('span');
  head.className = 'alert-head';
  head.textContent = `⚠ ${calls.length} can't make it without another stop${calls.length > named.length ? ', closest:' : ':'}`;
  const chips = named.map(({ c, pct }) => {
    const d = document.createElement('span');
    d.className = 'alert';
    d.dataset.car = c.car;
    const name = (drivers[c.car] || '').split(' ').slice(-1)[0];
    d.textContent = `#${c.car} ${name} ${pct.toFixed(1)} %`;
    d.title = `#${c.car} ${drivers[c.car] || ''} needs ${pct.toFixed(1)} % saving to finish: can't make it`;
    return d;
  });
  const parts = [head, ...chips];
  if (calls.length > named.length) {
    const more = document.createElement('span');
    more.className = 'alert-more';
    more.textContent = `+${calls.length - named.length} more`;
    parts.push(more);
  }
  box.replaceChildren(...parts);
}

function reorder() {
  const list = [...cars.values()].filter((c) => c.u);
  list.sort((x, y) => y.u.lap - x.u.lap || (x.car < y.car ? -1 : 1));
  const key = list.map((c) => c.car).join(',');
  if (key === orderKey) return;
  orderKey = key;
  const body = $('rows');
  list.forEach((c, i) => {
    c.pos.textContent = i + 1;
    body.appendChild(c.tr);
  });
}

function render() {
  frameQueued = false;
  const now = performance.now();
  const chartDirty = [...dirty].some((c) => c.car === chartCars.a || c.car === chartCars.b);
  for (const c of dirty) if (c.u) paintRow(c);
  dirty = new Set();
  reorder();
  markStale(now);
  paintHeader();
  paintAlerts();
  if (chartDirty) drawChart();
  // Close-to-screen latency: the server stamps each batch with the wall-clock time the
  // pipeline closed its windows; this frame is when its values are on the page.
  const shownAt = performance.timeOrigin + performance.now();
  for (const closed of arrivals) {
    latency.push(shownAt - closed);
    if (latency.length > LATENCY_KEEP) latency.shift();
  }
  arrivals.length = 0;
}

function refreshPickers() {
  const list = [...cars.keys()].sort((x, y) => Number(x) - Number(y) || (x < y ? -1 : 1));
  for (const [side, id] of [['a', 'car-a'], ['b', 'car-b']]) {
    const sel = $(id);
    const want = list.map((k) => `${k}|${drivers[k] || ''}`).join(',');
    if (sel.dataset.list !== want) {
      sel.dataset.list = want;
      sel.replaceChildren(...list.map((k) => {
        const o = document.createElement('option');
        o.value = k;
        o.textContent = `#${k} ${drivers[k] || ''}`;
        return o;
      }));
    }
    if (chartCars[side] === null) {
      // ?a=19&b=11 chooses the cars; else the first two numbers.
      const wanted = new URLSearchParams(location.search).get(side);
      if (wanted) chartCars[side] = wanted;
      else if (list.length >= 2) chartCars[side] = list[side === 'a' ? 0 : 1];
    }
    if (chartCars[side] !== null) sel.value = chartCars[side];
  }
}

function drawChart() {
  const cv = $('chart');
  const g = cv.getContext('2d');
  const W = cv.width;
  const H = cv.height;
  const pad = { l: 44, r: 12, t: 12, b: 26 };
  g.clearRect(0, 0, W, H);
  g.fillStyle = '#10151d';
  g.fillRect(0, 0, W, H);
  const series = [
    { car: chartCars.a, colour: '#ffb000' },
    { car: chartCars.b, colour: '#3fa9f5' },
  ].map((s) => ({ ...s, pts: (cars.get(s.car) || { laps: [] }).laps }));
  const all = series.flatMap((s) => s.pts);
  g.fillStyle = '#8a97a8';
  g.font = '12px system-ui, sans-serif';
  if (all.length === 0) {
    g.fillText('waiting for completed laps…', pad.l, H / 2);
    paintDuel(series);
    return;
  }
  const lapMax = Math.max(...all.map((p) => p.lap));
  const lapMin = Math.max(Math.min(...all.map((p) => p.lap)), lapMax - CHART_LAPS + 1);
  let yMin = Math.min(...all.map((p) => p.mpg));
  let yMax = Math.max(...all.map((p) => p.mpg));
  const span = Math.max(0.2, yMax - yMin);
  yMin -= span * 0.1;
  yMax += span * 0.1;
  const x = (lap) => pad.l + ((W - pad.l - pad.r) * (lap - lapMin)) / Math.max(1, lapMax - lapMin);
  const y = (v) => H - pad.b - ((H - pad.t - pad.b) * (v - yMin)) / (yMax - yMin);
  g.strokeStyle = '#263040';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i += 1) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    g.beginPath();
    g.moveTo(pad.l, y(v));
    g.lineTo(W - pad.r, y(v));
    g.stroke();
    g.fillText(v.toFixed(2), 4, y(v) + 4);
  }
  for (let lap = lapMin; lap <= lapMax; lap += Math.max(1, Math.ceil((lapMax - lapMin) / 10))) {
    g.fillText(String(lap), x(lap) - 6, H - 8);
  }
  for (const s of series) {
    const pts = s.pts.filter((p) => p.lap >= lapMin);
    g.strokeStyle = s.colour;
    g.fillStyle = s.colour;
    g.lineWidth = 3;
    g.beginPath();
    pts.forEach((p, i) => (i === 0 ? g.moveTo(x(p.lap), y(p.mpg)) : g.lineTo(x(p.lap), y(p.mpg))));
    g.stroke();
    for (const p of pts) {
      g.beginPath();
      g.arc(x(p.lap), y(p.mpg), 4, 0, 2 * Math.PI);
      g.fill();
    }
  }
  paintDuel(series);
}

function paintDuel(series) {
  const rows = series.map((s) => {
    const u = (cars.get(s.car) || {}).u;
    return `<tr><td><span class="swatch" style="background:${s.colour}"></span>#${s.car ?? '—'} ${drivers[s.car] || ''}</td>`
      + `<td>${u ? fmt(u.mpg_stint, 2) : '—'} mpg stint</td><td>${u ? fmt(u.remaining_gal, 1) : '—'} gal</td>`
      + `<td>${u ? fmt(u.laps_to_empty, 1) : '—'} laps</td></tr>`;
  });
  const html = rows.join('');
  const duel = $('duel');
  if (duel.innerHTML !== html) duel.innerHTML = html;
}

function banner(text) {
  const b = $('banner');
  b.textContent = text || '';
  b.classList.toggle('hidden', !text);
}

async function main() {
  let cfg = await loadConfig();
  // The local server learns the race from the feed: wait for it.
  while (!cfg.raceId) {
    banner('Waiting for a race… (set ?race= or raceId in config.json)');
    await new Promise((r) => setTimeout(r, 1000));
    cfg = await loadConfig();
  }
  banner('');
  const race = cfg.raceId;
  let api = null;
  let loadingChart = false;

  async function loadChartHistory() {
    // Back-fills the two chosen cars from the server's history (newest last).
    if (loadingChart || !api) return;
    loadingChart = true;
    try {
      for (const car of [chartCars.a, chartCars.b]) {
        if (!car) continue;
        const data = await api.query(
          `query H($r: ID!, $c: String!) { history(race_id: $r, car: $c, limit: 120) { car lap mpg_lap } }`,
          { r: race, c: car },
        );
        const c = cars.get(car);
        if (!c) continue;
        const merged = [];
        for (const u of data.history) {
          const lapNo = Math.floor(u.lap);
          if (u.mpg_lap === null || lapNo < 1) continue;
          if (merged.length && merged[merged.length - 1].lap >= lapNo) continue;
          merged.push({ lap: lapNo, mpg: u.mpg_lap });
        }
        for (const p of c.laps) if (!merged.some((m) => m.lap === p.lap)) merged.push(p);
        merged.sort((x, y) => x.lap - y.lap);
        c.laps = merged.slice(-CHART_LAPS);
      }
      drawChart();
    } catch (e) {
      console.warn('history', e);
    } finally {
      loadingChart = false;
    }
  }

  for (const [side, id] of [['a', 'car-a'], ['b', 'car-b']]) {
    $(id).addEventListener('change', (ev) => {
      chartCars[side] = ev.target.value;
      drawChart();
      loadChartHistory();
    });
  }

  api = new AppSync(cfg, (state, detail) => {
    const conn = $('conn');
    conn.textContent = state;
    conn.className = `conn c-${state}`;
    if (state === 'lost' || state === 'error') {
      banner(`Connection lost (${detail || state}): reconnecting… the values shown are the last received.`);
      document.body.classList.add('offline');
    } else if (state === 'connected') {
      banner('');
      document.body.classList.remove('offline');
    }
  });

  api.subscribe(
    `subscription U($r: ID!) { onUpdates(race_id: $r) { race_id updates { ${UPDATE_FIELDS} } } }`,
    { r: race },
    {
      onStart: async () => {
        // A new connection: re-sync from the state of record.
        epoch += 1;
        try {
          const data = await api.query(
            `query S($r: ID!) { latest(race_id: $r) { ${UPDATE_FIELDS} } raceState(race_id: $r) { ${STATE_FIELDS} } }`,
            { r: race },
          );
          acceptSnapshot(data.latest);
          setRaceState(data.raceState);
          schedule();
          loadChartHistory();
        } catch (e) {
          banner(`The snapshot query failed: ${e.message}`);
        }
      },
      onData: (data, ext) => {
        const batch = data.onUpdates;
        if (!batch) return;
        for (const u of batch.updates) accept(u);
        if (ext && ext.burnbar && ext.burnbar.closedAtMs) {
          arrivals.push(ext.burnbar.closedAtMs);
          received.push(performance.timeOrigin + performance.now() - ext.burnbar.closedAtMs);
          if (received.length > LATENCY_KEEP) received.shift();
        }
        schedule();
      },
      onError: (errors) => banner(`Subscription refused: ${JSON.stringify(errors)}`),
    },
  );
  api.subscribe(
    `subscription R($r: ID!) { onRaceState(race_id: $r) { ${STATE_FIELDS} } }`,
    { r: race },
    { onData: (data) => setRaceState(data.onRaceState) },
  );
  // Staleness also advances with no update at all.
  setInterval(() => { markStale(performance.now()); paintAlerts(); }, 500);

  // For tests and for the curious: read-only views of what is on the page.
  window.__burnbar = {
    api,
    cars: () => [...cars.values()].filter((c) => c.u).map((c) => ({
      car: c.car, seq: c.u.seq, lap: c.u.lap, stale: c.stale, driver: drivers[c.car] || null,
      save: c.u.save_needed_pct, called: called(c.u),
    })),
    race: () => (raceState ? {
      leader_lap: raceState.leader_lap, fuel_window_lap: raceState.fuel_window_lap,
      cant_make_it_pct: raceState.cant_make_it_pct, fuel_window: fuelWindowText(raceState),
    } : null),
    /** The cars the alert counts, as it shows them: closest call first. */
    calls: () => [...cars.values()].filter((c) => c.u && !c.stale && called(c.u))
      .map((c) => ({ car: c.car, save: c.u.save_needed_pct }))
      .sort((x, y) => x.save - y.save || (x.car < y.car ? -1 : 1)),
    chart: () => ({ a: chartCars.a, b: chartCars.b,
      pointsA: (cars.get(chartCars.a) || { laps: [] }).laps.length,
      pointsB: (cars.get(chartCars.b) || { laps: [] }).laps.length }),
    latency: () => latency.slice(),
    received: () => received.slice(),
    dropped: () => dropped,
    connections: () => api.connections,
  };
}

main();
