// oidc-provider (the certified Node.js OpenID provider) as an upstream identity provider of
// Ostiary's federated login (tests/federation/test_oidc_provider.py): one confidential client
// with client_secret_basic, ES256 ID tokens, PKCE required, and oidc-provider's development
// login form (any login name, no password) standing in for the upstream's own sign-in.
//
//   node tests/peers/oidc_upstream.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// Prints "ready" once it listens on 127.0.0.1:PORT. The account of login name NAME has the
// subject NAME, the e-mail NAME@corp.example (verified) and the roles [buyer].

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: oidc_upstream.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI');
  process.exit(2);
}

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'es256' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['roles'] },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@corp.example`, email_verified: true, roles: ['buyer'] };
      },
    };
  },
});
provider.proxy = false;

provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
