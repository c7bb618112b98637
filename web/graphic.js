// The on-air Burn Bar: up to four chosen cars (graphic.html?cars=24,11,5,9), large and
// animated, for the graphics operator. On air a number must never flicker to a dash:
// each figure holds its last good (non-null) value, and nothing is greyed or blanked
// when updates pause (the dashboard is where staleness is shown).
//
// A car that can't make it (fuel-update-v1: in its final window, `save_needed_pct` at
// least RaceState's `cant_make_it_pct`) is marked: a red edge and a "CAN'T MAKE IT" tag
// with the saving it needs. The call is not held: a null `save_needed_pct` means the car
// is not in its final window (it has just stopped, say), so the mark goes.
//
// The figure is laps of fuel (`laps_to_empty`: laps the fuel left lasts at the car's
// pace), not the race's laps to go. Without `?cars=` the graphic shows the first four in
// running order and says so; a chosen car the race does not have gets no bar, and the
// status line names it and the race's cars.

import { loadConfig, AppSync } from './appsync.js';

const FIELDS = 'car seq lap mode burn_index laps_to_empty mpg_stint mpg_lap remaining_gal save_needed_pct';
const STATE_FIELDS = 'drivers cant_make_it_pct';
const MAX_CARS = 4;
const params = new URLSearchParams(location.search);
if (params.get('bg') === 'transparent') document.body.classList.add('transparent');

const panels = new Map();
let drivers = {};
/** RaceState's call threshold; null until a RaceState has come (then nobody is called). */
let cantMakeItPct = null;
let chosen = (params.get('cars') || '').split(',').map((s) => s.trim()).filter(Boolean).slice(0, MAX_CARS);
/** The cars the URL asked for; none: the first four in running order. */
const requested = chosen.slice();
const choseCars = requested.length > 0;
/** The race's cars, once known (RaceState's drivers, else the cars with an update). */
let raceCars = null;
/** The link's state line, and the cars' note: both shown, one after the other. */
let linkText = '';
let carsText = '';

function paintStatus() {
  const s = document.getElementById('status');
  const text = [carsText, linkText].filter(Boolean).join(' · ');
  s.textContent = text;
  s.classList.toggle('hidden', !text);
}

function status(text) {
  linkText = text || '';
  paintStatus();
}

const byNumber = (x, y) => Number(x) - Number(y) || (x < y ? -1 : 1);

/**
 * Once the race's cars are known: a chosen car the race does not have loses its panel
 * and is named, with the cars the race has; no choice at all is said too.
 */
function checkCars(known) {
  if (!known || known.length === 0) return;
  raceCars = known.slice().sort(byNumber);
  const unknown = requested.filter((c, i) => !raceCars.includes(c) && requested.indexOf(c) === i);
  for (const car of unknown) {
    const p = panels.get(car);
    if (p) {
      p.el.remove();
      panels.delete(car);
    }
  }
  chosen = chosen.filter((c) => raceCars.includes(c));
  const example = `graphic.html?cars=${(chosen.length ? chosen : raceCars).slice(0, MAX_CARS).join(',')}`;
  if (unknown.length > 0) {
    carsText = `No car ${unknown.map((c) => `"${c}"`).join(', ')} in this race${chosen.length ? '' : ': nothing to show'}. `
      + `Cars: ${raceCars.join(', ')}. Choose up to four: ${example}`;
  } else if (!choseCars) {
    carsText = `No cars chosen (?cars=): showing the first four in running order. Choose up to four: ${example}`;
  } else {
    carsText = '';
  }
  paintStatus();
}

function panel(car) {
  let p = panels.get(car);
  if (p) return p;
  const el = document.createElement('div');
  el.className = 'bb';
  el.dataset.car = car;
  el.innerHTML = `<div class="bb-num">${car}</div>
    <div><div class="bb-name"></div><div class="bb-mode">&nbsp;</div></div>
    <div class="bb-bar"><div class="bb-centre"></div><div class="bb-bar-fill"></div></div>
    <div class="bb-figs"><div><span class="bb-laps">–</span> <span class="bb-unit">LAPS OF FUEL</span></div><div class="bb-mpg">&nbsp;</div></div>
    <div class="bb-call hidden"></div>`;
  document.getElementById('stage').appendChild(el);
  p = {
    el, seq: -Infinity, held: {}, shownLaps: null, anim: null, save: null,
    name: el.querySelector('.bb-name'), mode: el.querySelector('.bb-mode'), call: el.querySelector('.bb-call'),
    fill: el.querySelector('.bb-bar-fill'), laps: el.querySelector('.bb-laps'), mpg: el.querySelector('.bb-mpg'),
  };
  panels.set(car, p);
  return p;
}

const COLOURS = { saving: 'var(--saving)', pushing: 'var(--pushing)', pit: 'var(--pit)', caution: 'var(--caution)', normal: 'var(--normal)' };

function isCalled(p) {
  return cantMakeItPct !== null && p.save !== null && p.save >= cantMakeItPct;
}

/** The panel's edge (the mode's colour, or the call's) and its "can't make it" tag. */
function paintCall(p) {
  const on = isCalled(p);
  p.el.classList.toggle('called', on);
  p.call.classList.toggle('hidden', !on);
  const text = on ? `CAN'T MAKE IT · NEEDS ${p.save.toFixed(0)}% SAVE` : '';
  if (p.call.textContent !== text) p.call.textContent = text;
  p.el.style.borderLeftColor = on ? 'var(--call)' : COLOURS[p.held.mode] || COLOURS.normal;
}

function setRaceState(s) {
  if (!s) return;
  drivers = JSON.parse(s.drivers || '{}');
  if (Object.keys(drivers).length > 0) checkCars(Object.keys(drivers));
  cantMakeItPct = typeof s.cant_make_it_pct === 'number' ? s.cant_make_it_pct : null;
  for (const p of panels.values()) paintCall(p);
}

/** Counts the laps figure from its shown value to the new one. */
function tweenLaps(p, to) {
  const from = p.shownLaps ?? to;
  const t0 = performance.now();
  cancelAnimationFrame(p.anim);
  const step = (now) => {
    const k = Math.min(1, (now - t0) / 700);
    const v = from + (to - from) * (1 - (1 - k) ** 3);
    p.laps.textContent = v.toFixed(1);
    p.shownLaps = v;
    if (k < 1) p.anim = requestAnimationFrame(step);
  };
  p.anim = requestAnimationFrame(step);
}

function show(u, snapshot) {
  if (!chosen.includes(u.car)) return;
  const p = panel(u.car);
  if (!snapshot && u.seq <= p.seq) return;
  p.seq = u.seq;
  // Hold the last good value of every figure.
  for (const k of ['burn_index', 'laps_to_empty', 'mpg_stint', 'mode']) {
    if (u[k] !== null && u[k] !== undefined) p.held[k] = u[k];
  }
  const h = p.held;
  p.save = u.save_needed_pct ?? null;
  p.name.textContent = drivers[u.car] || `Car ${u.car}`;
  if (h.mode) {
    p.mode.textContent = h.mode.toUpperCase();
    p.fill.style.backgroundColor = COLOURS[h.mode] || COLOURS.normal;
  }
  paintCall(p);
  if (h.burn_index !== undefined) {
    // Saving fills left of centre, pushing right; ±12 % spans the half bar.
    const x = Math.max(-1, Math.min(1, (h.burn_index - 1) / 0.12));
    const w = Math.max(1.5, 50 * Math.abs(x));
    p.fill.style.left = `${x < 0 ? 50 - w : 50}%`;
    p.fill.style.width = `${w}%`;
    const pct = (h.burn_index - 1) * 100;
    p.mode.textContent = `${(h.mode || '').toUpperCase()}  ${pct >= 0 ? '+' : ''}${pct.toFixed(1)}% BURN`;
  }
  if (h.laps_to_empty !== undefined) tweenLaps(p, h.laps_to_empty);
  if (h.mpg_stint !== undefined) p.mpg.textContent = `${h.mpg_stint.toFixed(2)} MPG STINT`;
}

async function main() {
  let cfg = await loadConfig();
  while (!cfg.raceId) {
    status('Waiting for a race…');
    await new Promise((r) => setTimeout(r, 1000));
    cfg = await loadConfig();
  }
  status('');
  const race = cfg.raceId;
  // The operator's order, whatever order the data comes in.
  for (const car of chosen) panel(car);
  const api = new AppSync(cfg, (state) => {
    // The operator sees the link state; the audience keeps the last good values.
    status(state === 'connected' ? '' : `link ${state}`);
  });
  api.subscribe(
    `subscription U($r: ID!) { onUpdates(race_id: $r) { updates { ${FIELDS} } } }`,
    { r: race },
    {
      onStart: async () => {
        const data = await api.query(
          `query S($r: ID!) { latest(race_id: $r) { ${FIELDS} } raceState(race_id: $r) { ${STATE_FIELDS} } }`,
          { r: race },
        );
        if (!choseCars && chosen.length === 0) {
          // No choice made: the first four in running order.
          chosen = [...data.latest].sort((a, b) => b.lap - a.lap).slice(0, MAX_CARS).map((u) => u.car);
        }
        setRaceState(data.raceState);
        if (!raceCars && data.latest.length > 0) checkCars(data.latest.map((u) => u.car));
        for (const car of chosen) panel(car);
        for (const u of data.latest) show(u, true);
      },
      onData: (data) => {
        const list = data.onUpdates.updates;
        if (!choseCars && chosen.length === 0 && list.length > 0) {
          chosen = [...list].sort((a, b) => b.lap - a.lap).slice(0, MAX_CARS).map((u) => u.car);
          for (const car of chosen) panel(car);
          checkCars(raceCars || list.map((u) => u.car));
        }
        for (const u of list) show(u, false);
      },
    },
  );
  api.subscribe(
    `subscription R($r: ID!) { onRaceState(race_id: $r) { ${STATE_FIELDS} } }`,
    { r: race },
    { onData: (d) => setRaceState(d.onRaceState) },
  );
  window.__burnbar = {
    chosen: () => chosen.slice(),
    /** The panels marked "can't make it". */
    called: () => [...panels.values()].filter(isCalled).map((p) => p.el.dataset.car),
    panels: () => [...panels.values()].map((p) => ({
      car: p.el.dataset.car, seq: p.seq, save: p.save, called: isCalled(p),
    })),
    threshold: () => cantMakeItPct,
    /** The status line (the link, the cars' note). */
    status: () => document.getElementById('status').textContent,
  };
}

main();
