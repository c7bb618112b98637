// Unit tests of the APPSYNC_JS resolvers in appsync/ (node's test runner; the runtime's
// `util` from runtime.js). Run by scripts/test-appsync.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { AppSyncError, ctx, fromMapValues, setAuthType, setNow, writer } from './runtime.js';
import * as publishUpdates from '../../appsync/publishUpdates.js';
import * as publishRaceState from '../../appsync/publishRaceState.js';
import * as latest from '../../appsync/latest.js';
import * as history from '../../appsync/history.js';
import * as raceState from '../../appsync/raceState.js';

const NOW = 1_700_000_000;

function update(car, seq, extra = {}) {
  return { v: 1, race_id: 'r1', car, seq, window_start: seq * 5000, window_end: seq * 5000 + 5000, ...extra };
}

function batchItem(updates, expiresAt, windowEnd = 0) {
  return { pk: 'race#r1', sk: `batch#${windowEnd}`, updates: JSON.stringify(updates), expires_at: expiresAt };
}

function state(ts, extra = {}) {
  return { v: 1, race_id: 'r1', track: 'pocono', ts, flag: 'green', stage: 1, leader_lap: 10, cant_make_it_pct: 15, cars_running: 40, drivers: '{}', ...extra };
}

function rejects(fn, type) {
  assert.throws(fn, (e) => e instanceof AppSyncError && e.type === type);
}

test.beforeEach(() => {
  setNow(NOW);
  setAuthType('IAM Authorization');
});

// ---------------------------------------------------------------- the IAM-only mutations

test('the writer role publishes updates: one item per batch, sorted by time, with the stack TTL', () => {
  const req = publishUpdates.request(ctx({ race_id: 'r1', updates: [update('1', 10), update('2', 12)] }, { identity: writer, env: { STATE_TTL_DAYS: '3' } }));
  assert.equal(req.operation, 'PutItem');
  assert.deepEqual(req.key.pk, { S: 'race#r1' });
  assert.match(req.key.sk.S, /^batch#000000000065000#/);
  assert.deepEqual(req.attributeValues.expires_at, { N: String(NOW + 3 * 86400) });
  assert.equal(JSON.parse(req.attributeValues.updates.S).length, 2);
});

test('batch sort keys order by window end (zero padded, without padStart)', () => {
  const sk = (end) => publishUpdates.request(ctx({ race_id: 'r1', updates: [{ ...update('1', 1), window_end: end }] }, { identity: writer })).key.sk.S;
  const keys = [sk(999), sk(1_700_000_005_000), sk(10_000)];
  assert.deepEqual([...keys].sort(), [keys[0], keys[2], keys[1]]);
  assert.ok(keys.every((k) => k.split('#')[1].length === 15));
});

test('without STATE_TTL_DAYS the batch lives 7 days', () => {
  const req = publishUpdates.request(ctx({ race_id: 'r1', updates: [update('1', 1)] }, { identity: writer, env: { STATE_TTL_DAYS: undefined } }));
  assert.deepEqual(req.attributeValues.expires_at, { N: String(NOW + 7 * 86400) });
});

for (const [name, resolver, args] of [
  ['publishUpdates', publishUpdates, { race_id: 'r1', updates: [update('1', 1)] }],
  ['publishRaceState', publishRaceState, { state: state(1000) }],
]) {
  test(`${name}: an API key is refused`, () => {
    setAuthType('API Key Authorization');
    rejects(() => resolver.request(ctx(args, { identity: null })), 'Unauthorized');
  });
  test(`${name}: another IAM principal of the account is refused`, () => {
    const other = { ...writer, userArn: 'arn:aws:sts::123456789012:assumed-role/SomeOtherRole/session' };
    rejects(() => resolver.request(ctx(args, { identity: other })), 'Unauthorized');
    const user = { ...writer, userArn: 'arn:aws:iam::123456789012:user/alice' };
    rejects(() => resolver.request(ctx(args, { identity: user })), 'Unauthorized');
  });
  test(`${name}: a role whose name only starts like the writer's is refused`, () => {
    const lookalike = { ...writer, userArn: 'arn:aws:sts::123456789012:assumed-role/burnbar-AppSyncWriterRole-ABCD/x' };
    rejects(() => resolver.request(ctx(args, { identity: lookalike })), 'Unauthorized');
  });
  test(`${name}: without WRITER_ROLE_PREFIX nobody publishes (fails closed)`, () => {
    rejects(() => resolver.request(ctx(args, { identity: writer, env: { WRITER_ROLE_PREFIX: '' } })), 'Unauthorized');
  });
  test(`${name}: the writer's role is allowed`, () => {
    assert.equal(resolver.request(ctx(args, { identity: writer })).operation, 'PutItem');
  });
}

test('publishRaceState keeps the newest state: conditional on ts, a stale redelivery still answers', () => {
  const s = state(2000);
  const req = publishRaceState.request(ctx({ state: s }, { identity: writer }));
  assert.deepEqual(req.key, { pk: { S: 'race#r1' }, sk: { S: 'state' } });
  assert.equal(req.condition.expression, 'attribute_not_exists(pk) OR #ts <= :ts');
  assert.deepEqual(req.condition.expressionValues, { ':ts': { N: '2000' } });
  assert.deepEqual(req.attributeValues.expires_at, { N: String(NOW + 7 * 86400) });
  const stale = ctx({ state: s }, { identity: writer, error: { type: 'DynamoDB:ConditionalCheckFailedException', message: 'x' } });
  assert.deepEqual(publishRaceState.response(stale), s);
  const failed = ctx({ state: s }, { identity: writer, error: { type: 'DynamoDB:ProvisionedThroughputExceededException', message: 'slow down' } });
  rejects(() => publishRaceState.response(failed), 'DynamoDB:ProvisionedThroughputExceededException');
});

test('publishUpdates answers with the batch (which fires onUpdates), or the table error', () => {
  const args = { race_id: 'r1', updates: [update('1', 1)] };
  assert.deepEqual(publishUpdates.response(ctx(args, { identity: writer, result: {} })), args);
  rejects(() => publishUpdates.response(ctx(args, { error: { type: 'DynamoDB:AmazonDynamoDBException', message: 'x' } })), 'DynamoDB:AmazonDynamoDBException');
});

// ---------------------------------------------------------------- TTL filters on read

test('latest: the newest update of every car, from unexpired batches only', () => {
  setAuthType('API Key Authorization');
  const req = latest.request(ctx({ race_id: 'r1' }));
  assert.equal(req.operation, 'Query');
  assert.equal(req.scanIndexForward, false);
  assert.ok(req.limit <= 64);
  const items = [
    batchItem([update('1', 12), update('2', 11)], NOW + 10),
    batchItem([update('1', 11), update('3', 11)], NOW + 10),
    // Expired but not yet deleted by DynamoDB (it deletes within days): not shown.
    batchItem([update('4', 9), update('1', 99)], NOW),
    batchItem([update('5', 9)], NOW - 1),
  ];
  const out = latest.response(ctx({ race_id: 'r1' }, { result: { items } }));
  const byCar = Object.fromEntries(out.map((u) => [u.car, u.seq]));
  assert.deepEqual(byCar, { 1: 12, 2: 11, 3: 11 });
});

test('raceState: absent once expired, and a state without cant_make_it_pct counts as none', () => {
  setAuthType('API Key Authorization');
  const item = (s, exp) => ({ pk: 'race#r1', sk: 'state', state: JSON.stringify(s), ts: s.ts, expires_at: exp });
  assert.deepEqual(raceState.request(ctx({ race_id: 'r1' })).key, { pk: { S: 'race#r1' }, sk: { S: 'state' } });
  const live = raceState.response(ctx({ race_id: 'r1' }, { result: item(state(5), NOW + 1) }));
  assert.equal(live.ts, 5);
  assert.equal(live.fuel_window_lap, null);
  assert.equal(raceState.response(ctx({ race_id: 'r1' }, { result: item(state(5), NOW) })), null);
  assert.equal(raceState.response(ctx({ race_id: 'r1' }, { result: null })), null);
  const old = state(5);
  delete old.cant_make_it_pct;
  assert.equal(raceState.response(ctx({ race_id: 'r1' }, { result: item(old, NOW + 1) })), null);
});

test('publishRaceState stores RaceState whole and raceState returns it, fuel_window_lap and cant_make_it_pct included', () => {
  const full = state(1782136804870, {
    race_id: 'pocono-2026', stage: 2, leader_lap: 118.2, scheduled_laps: 160, laps_to_go: 41.8,
    fuel_window_lap: 123.8, cars_running: 38, drivers: '{"5":"Kyle Larson"}',
  });
  const put = publishRaceState.request(ctx({ state: full }, { identity: writer }));
  const item = { ...fromMapValues(put.key), ...fromMapValues(put.attributeValues) };
  assert.equal(item.ts, full.ts);
  setAuthType('API Key Authorization');
  const read = (result) => raceState.response(ctx({ race_id: 'pocono-2026' }, { result }));
  assert.deepEqual(read(item), full);
  // A null fuel window passes; an absent one reads as null.
  assert.equal(read({ ...item, state: JSON.stringify({ ...full, fuel_window_lap: null }) }).fuel_window_lap, null);
  const { fuel_window_lap: _w, ...noWindowField } = full;
  assert.equal(read({ ...item, state: JSON.stringify(noWindowField) }).fuel_window_lap, null);
});

// ---------------------------------------------------------------- history and its bound

function historyItems(car, seqs, expiresAt = NOW + 100) {
  // Newest first, as the Query returns them; each batch carries another car too.
  return [...seqs].reverse().map((s) => batchItem([update(car, s), update('other', s)], expiresAt));
}

test('history: the car only, oldest first, duplicates (redeliveries) once, expired skipped', () => {
  setAuthType('API Key Authorization');
  const items = [
    ...historyItems('7', [5, 6, 7, 8]),
    batchItem([update('7', 6)], NOW + 100), // a redelivered window
    batchItem([update('7', 3)], NOW - 5), // expired
    batchItem([update('7', 4)], NOW + 100), // out of order
  ];
  const out = history.response(ctx({ race_id: 'r1', car: '7' }, { result: { items } }));
  assert.deepEqual(out.map((u) => u.seq), [4, 5, 6, 7, 8]);
  assert.ok(out.every((u) => u.car === '7'));
});

test('history: limit keeps the newest ones; the default is 120', () => {
  setAuthType('API Key Authorization');
  const seqs = Array.from({ length: 300 }, (_, i) => i + 1);
  const items = historyItems('7', seqs);
  const out = history.response(ctx({ race_id: 'r1', car: '7', limit: 3 }, { result: { items } }));
  assert.deepEqual(out.map((u) => u.seq), [298, 299, 300]);
  const dflt = history.response(ctx({ race_id: 'r1', car: '7' }, { result: { items } }));
  assert.equal(dflt.length, 120);
  assert.equal(dflt[119].seq, 300);
  assert.deepEqual(history.response(ctx({ race_id: 'r1', car: '7', limit: 0 }, { result: { items } })), []);
});

test('history is bounded: at most 240 updates and one Query of at most 480 items, whatever the limit', () => {
  setAuthType('API Key Authorization');
  for (const limit of [241, 720, 100000, Number.MAX_SAFE_INTEGER]) {
    const req = history.request(ctx({ race_id: 'r1', car: '7', limit }));
    assert.equal(req.operation, 'Query');
    assert.ok(req.limit <= 480, `limit ${limit}: Query limit ${req.limit}`);
    const items = historyItems('7', Array.from({ length: 500 }, (_, i) => i + 1));
    const out = history.response(ctx({ race_id: 'r1', car: '7', limit }, { result: { items } }));
    assert.equal(out.length, 240);
    assert.equal(out[239].seq, 500);
  }
  assert.ok(history.request(ctx({ race_id: 'r1', car: '7', limit: 120 })).limit >= 120);
  assert.ok(history.request(ctx({ race_id: 'r1', car: '7', limit: 0 })).limit >= 1);
});

test('history: a negative limit is a BadRequestException', () => {
  setAuthType('API Key Authorization');
  rejects(() => history.request(ctx({ race_id: 'r1', car: '7', limit: -1 })), 'BadRequestException');
});

test('the queries read their race partition only', () => {
  for (const r of [latest, history]) {
    const req = r.request(ctx({ race_id: 'r9', car: '1' }));
    assert.equal(req.query.expression, 'pk = :pk AND begins_with(sk, :b)');
    assert.deepEqual(req.query.expressionValues, { ':pk': { S: 'race#r9' }, ':b': { S: 'batch#' } });
  }
});
