// oidc-provider (the certified Node.js OpenID provider) configured as the throughput benchmark
// (bench/oidc_throughput.py) configures Ostiary: one confidential client that authenticates with
// client_secret_basic and may use client_credentials, introspection on, ES256 signing keys.
//
// Access tokens: with `resource=<audience>` (RFC 8707 resource indicator) the client credentials
// grant issues a JWT access token signed with ES256 and typed at+jwt (RFC 9068), as Ostiary does;
// without it an opaque token kept in the provider's store. oidc-provider introspects only opaque
// tokens (it answers a JWT with unsupported_token_type), so introspection uses those.
//
//   node bench/peers/oidc_provider_server.mjs PORT CLIENT_ID CLIENT_SECRET AUDIENCE SCOPE
//
// Prints "ready" on stdout once it listens on 127.0.0.1:PORT. Default in-memory store (no
// database), one process, NODE_ENV as given by the caller.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const [port, clientId, clientSecret, audience, scope] = process.argv.slice(2);
if (!scope) {
  console.error('usage: oidc_provider_server.mjs PORT CLIENT_ID CLIENT_SECRET AUDIENCE SCOPE');
  process.exit(2);
}

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'es256' };
const lifetime = 600; // seconds, Ostiary's default access token lifetime

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope,
    },
  ],
  scopes: ['openid', 'offline_access', scope],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: { ClientCredentials: lifetime, AccessToken: lifetime },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, resource) => {
        if (resource !== audience) throw new errors.InvalidTarget();
        return {
          scope,
          audience,
          accessTokenTTL: lifetime,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
