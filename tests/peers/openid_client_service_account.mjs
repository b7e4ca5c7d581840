// A client's service account at the admin API, driven by openid-client (a certified relying
// party): discovery, client credentials with private_key_jwt (a fresh assertion, and so a fresh
// jti, for every request), then the admin API with the access token. Any exception openid-client
// raises is a defect in Ostiary.
//
// Input: one JSON object on stdin:
//   {"issuer": "http://127.0.0.1:PORT", "client_id": "...", "private_jwk": {...EC P-256 JWK...},
//    "resources": {"name": "/api/v1/...", ...}}
// Output: one JSON object on stdout: the access token's claims, the answer to each resource
// (status and JSON body), and whether a second token could be had with a new assertion.

import * as client from 'openid-client'

let step = 'start'

async function readInput() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

function decodeJwt(jwt) {
  const [, payload] = jwt.split('.')
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
}

async function main() {
  const input = await readInput()
  step = 'import the private key'
  const key = await crypto.subtle.importKey(
    'jwk',
    input.private_jwk,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  )
  step = 'discovery'
  const config = await client.discovery(
    new URL(input.issuer),
    input.client_id,
    undefined,
    client.PrivateKeyJwt({ key, kid: input.private_jwk.kid }),
    { execute: [client.allowInsecureRequests], algorithm: 'oauth2' },
  )
  step = 'client credentials grant'
  const tokens = await client.clientCredentialsGrant(config)
  const out = { access_token: decodeJwt(tokens.access_token), resources: {} }
  for (const [name, path] of Object.entries(input.resources)) {
    step = `admin API: ${name}`
    const response = await client.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL(path, input.issuer),
      'GET',
    )
    out.resources[name] = { status: response.status, body: await response.json() }
  }
  step = 'a second grant, with a new assertion'
  const again = await client.clientCredentialsGrant(config)
  out.second_token = typeof again.access_token === 'string'
  process.stdout.write(JSON.stringify(out) + '\n')
}

try {
  await main()
} catch (error) {
  process.stderr.write(
    JSON.stringify({ step, error: String(error), cause: String(error?.cause ?? '') }, null, 2) +
      '\n',
  )
  process.exit(1)
}
