// raceState: the race's latest state, absent once expired.
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  return {
    operation: 'GetItem',
    key: util.dynamodb.toMapValues({ pk: `race#${ctx.args.race_id}`, sk: 'state' }),
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const item = ctx.result;
  if (!item || item.expires_at <= util.time.nowEpochSeconds()) {
    return null;
  }
  const state = JSON.parse(item.state);
  // A state stored before RaceState carried `cant_make_it_pct` (a deploy mid-race) would
  // fail the schema's `Float!`: it counts as no state yet, and the next publish (with the
  // next batch of updates) replaces it. `fuel_window_lap` is null when absent.
  if (typeof state.cant_make_it_pct !== 'number') {
    return null;
  }
  state.fuel_window_lap = state.fuel_window_lap ?? null;
  return state;
}
