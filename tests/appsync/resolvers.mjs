// The AppSync resolvers (appsync/*.js) run in node with a stand-in for
// `@aws-appsync/utils`, as AppSync's APPSYNC_JS runtime would run them. Run by
// tests/resolvers.rs (cargo test). Checks:
// - no statement or operator APPSYNC_JS refuses (AppSync rejects such code on deploy):
//   continue, try/catch/finally, throw, while, do, C-style for, ++/--;
// - publishRaceState stores the whole state and raceState gives it back, RaceState's
//   fuel_window_lap and cant_make_it_pct included; a state stored before RaceState had
//   cant_make_it_pct is no state (null), not a GraphQL error; an expired one is null;
// - latest and history skip expired batches and keep the newest update per car/seq.

import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIR = join(ROOT, 'appsync');
const NOW = 1_800_000_000;

globalThis.__util = {
  dynamodb: { toMapValues: (v) => v },
  time: { nowEpochSeconds: () => NOW },
  autoId: () => 'id-1',
  error: (message, type) => { throw new Error(`${type}: ${message}`); },
};

function code(name) {
  return readFileSync(join(DIR, name), 'utf8');
}

/** The source without comments and string/template contents, for the syntax checks. */
function bare(src) {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:\\.|[^'\\])*'/g, "''")
    .replace(/`(?:\\.|[^`\\])*`/g, '``');
}

async function load(name) {
  const src = code(name).replace(
    /import \{ util \} from '@aws-appsync\/utils';/,
    'const util = globalThis.__util;',
  );
  assert.ok(src.includes('globalThis.__util'), `${name} imports util from @aws-appsync/utils`);
  return import(`data:text/javascript,${encodeURIComponent(src)}`);
}

function ok(what) {
  console.log(`ok - ${what}`);
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.js')).sort();
assert.deepEqual(files, ['history.js', 'latest.js', 'publishRaceState.js', 'publishUpdates.js', 'raceState.js']);
const refused = [
  [/\bcontinue\b/, 'continue'], [/\btry\b/, 'try'], [/\bcatch\b/, 'catch'], [/\bfinally\b/, 'finally'],
  [/\bthrow\b/, 'throw'], [/\bwhile\b/, 'while'], [/\bdo\s*\{/, 'do'], [/\bfor\s*\([^)]*;/, 'C-style for'],
  [/\+\+|--/, '++/--'],
];
for (const f of files) {
  const src = bare(code(f));
  for (const [re, what] of refused) {
    assert.ok(!re.test(src), `appsync/${f} uses ${what}, which APPSYNC_JS does not support`);
  }
}
ok(`no resolver uses what APPSYNC_JS refuses (${files.join(', ')})`);

const publish = await load('publishRaceState.js');
const read = await load('raceState.js');
const state = {
  v: 1, race_id: 'pocono-2026', track: 'pocono', ts: 1782136804870, flag: 'green', stage: 2,
  leader_lap: 118.2, scheduled_laps: 160, laps_to_go: 41.8, fuel_window_lap: 123.8,
  cant_make_it_pct: 15, cars_running: 38, drivers: '{"5":"Kyle Larson"}',
};
const put = publish.request({ args: { state } });
assert.equal(put.operation, 'PutItem');
assert.deepEqual(put.key, { pk: 'race#pocono-2026', sk: 'state' });
assert.equal(put.attributeValues.ts, state.ts);
assert.deepEqual(publish.response({ args: { state } }), state);
// A redelivered older state loses the condition: not an error.
assert.deepEqual(publish.response({ args: { state }, error: { type: 'DynamoDB:ConditionalCheckFailedException', message: 'x' } }), state);
const item = { ...put.attributeValues, expires_at: put.attributeValues.expires_at };
const ctx = (result) => ({ args: { race_id: 'pocono-2026' }, result });
assert.deepEqual(read.response(ctx(item)), state);
ok('publishRaceState stores RaceState whole and raceState returns it with fuel_window_lap and cant_make_it_pct');

const noWindow = { ...state, fuel_window_lap: null };
assert.equal(read.response(ctx({ ...item, state: JSON.stringify(noWindow) })).fuel_window_lap, null);
const { fuel_window_lap: _w, cant_make_it_pct: _c, ...old } = state;
assert.equal(read.response(ctx({ ...item, state: JSON.stringify(old) })), null);
const { fuel_window_lap: _w2, ...noWindowField } = state;
assert.equal(read.response(ctx({ ...item, state: JSON.stringify(noWindowField) })).fuel_window_lap, null);
assert.equal(read.response(ctx({ ...item, expires_at: NOW })), null);
assert.equal(read.response(ctx(null)), null);
ok('a null fuel window passes; a state stored without cant_make_it_pct, an expired one and none are null');

const latest = await load('latest.js');
const history = await load('history.js');
const u = (car, seq) => ({ car, seq, lap: seq / 10 });
const items = [
  { expires_at: NOW + 10, updates: JSON.stringify([u('5', 3), u('24', 3)]) },
  { expires_at: NOW, updates: JSON.stringify([u('5', 9)]) },
  { expires_at: NOW + 10, updates: JSON.stringify([u('5', 2), u('24', 4)]) },
];
const got = latest.response({ args: { race_id: 'r' }, result: { items } }).sort((a, b) => (a.car < b.car ? -1 : 1));
assert.deepEqual(got, [u('24', 4), u('5', 3)]);
assert.deepEqual(history.response({ args: { race_id: 'r', car: '5', limit: 2 }, result: { items } }), [u('5', 2), u('5', 3)]);
ok('latest and history skip expired batches');
