// The pages' own rules that need no browser (node's test runner): where a link's
// `?api=` / `?realtime=` may point the page (web/appsync.js). Run by tests/resolvers.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { allowedEndpoint } from '../../web/appsync.js';

const PAGE = 'https://d111.cloudfront.net/graphic.html?race=r1';
const CFG = { graphqlUrl: 'https://abc.appsync-api.us-east-1.amazonaws.com/graphql' };

test('a link may point the page at its own server or its configured API', () => {
  assert.equal(allowedEndpoint('/graphql', {}, PAGE), 'https://d111.cloudfront.net/graphql');
  assert.equal(allowedEndpoint(CFG.graphqlUrl, CFG, PAGE), CFG.graphqlUrl);
  // AppSync's real-time host of the configured API.
  const rt = 'wss://abc.appsync-realtime-api.us-east-1.amazonaws.com/graphql';
  assert.equal(allowedEndpoint(rt, CFG, PAGE), rt);
});

test('a crafted link to another server is refused', () => {
  assert.equal(allowedEndpoint('https://evil.example/graphql', CFG, PAGE), null);
  assert.equal(allowedEndpoint('wss://evil.example/graphql/realtime', CFG, PAGE), null);
  // Another AppSync API than the configured one, and a look-alike host.
  assert.equal(allowedEndpoint('https://xyz.appsync-api.us-east-1.amazonaws.com/graphql', CFG, PAGE), null);
  assert.equal(allowedEndpoint('https://d111.cloudfront.net.evil.example/graphql', CFG, PAGE), null);
  // With no configuration, only the page's own server.
  assert.equal(allowedEndpoint('https://abc.appsync-api.us-east-1.amazonaws.com/graphql', {}, PAGE), null);
  assert.equal(allowedEndpoint('', CFG, PAGE), null);
  assert.equal(allowedEndpoint(null, CFG, PAGE), null);
});

test('config.json may list further APIs a link may choose', () => {
  const cfg = { ...CFG, apiOrigins: ['https://backup.example'] };
  assert.equal(allowedEndpoint('https://backup.example/graphql', cfg, PAGE), 'https://backup.example/graphql');
  assert.equal(allowedEndpoint('https://other.example/graphql', cfg, PAGE), null);
  // A malformed list is no list.
  assert.equal(allowedEndpoint('https://backup.example/graphql', { apiOrigins: 'https://backup.example' }, PAGE), null);
});
