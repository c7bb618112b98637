// publishUpdates: keeps the batch for the `latest` and `history` queries (one item per
// batch, with the table's TTL), then returns it, which fires the `onUpdates`
// subscription of that race. Only the appsync-writer function may call it: the schema
// allows IAM alone (`@aws_iam`), and the resolver checks that the signer is the writer's
// role (the API's WRITER_ROLE_PREFIX environment variable, set by template.yaml), so no
// other IAM principal of the account can publish.
import { util } from '@aws-appsync/utils';

// StateTtlDays of the stack (STATE_TTL_DAYS), 7 without it.
const DEFAULT_TTL_DAYS = 7;
const ZEROS = '000000000000000';

function ttlSeconds(ctx) {
  const days = Number((ctx.env || {}).STATE_TTL_DAYS);
  return (days > 0 ? days : DEFAULT_TTL_DAYS) * 24 * 3600;
}

function assertWriter(ctx) {
  const prefix = (ctx.env || {}).WRITER_ROLE_PREFIX || '';
  const arn = (ctx.identity && ctx.identity.userArn) || '';
  // Fails closed: without the variable nobody publishes.
  if (util.authType() !== 'IAM Authorization' || prefix === '' || !arn.startsWith(prefix)) {
    util.unauthorized();
  }
}

export function request(ctx) {
  assertWriter(ctx);
  const end = ctx.args.updates.reduce((m, u) => (u.window_end > m ? u.window_end : m), 0);
  // Zero-padded so the sort key orders by time (APPSYNC_JS has no String.padStart).
  const e = String(end);
  const padded = e.length < ZEROS.length ? ZEROS.slice(e.length) + e : e;
  return {
    operation: 'PutItem',
    key: util.dynamodb.toMapValues({
      pk: `race#${ctx.args.race_id}`,
      sk: `batch#${padded}#${util.autoId()}`,
    }),
    attributeValues: util.dynamodb.toMapValues({
      updates: JSON.stringify(ctx.args.updates),
      expires_at: util.time.nowEpochSeconds() + ttlSeconds(ctx),
    }),
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return { race_id: ctx.args.race_id, updates: ctx.args.updates };
}
