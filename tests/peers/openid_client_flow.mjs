// Drives Ostiary end to end with openid-client (a certified OpenID Connect relying party), playing
// the browser itself with fetch. Any exception openid-client raises is a defect in Ostiary.
//
// Input: one JSON object, as the first argument or on stdin:
//   {
//     "issuer": "http://127.0.0.1:PORT",
//     "redirect_uri": "...", "post_logout_redirect_uri": "...",
//     "username": "...", "password": "...",
//     "choose_context": "<context id the user picks on the chooser page, if one is shown>",
//     "spa":     {"client_id": "...", "scope": "..."},                        public, PKCE, auth none
//     "web":     {"client_id": "...", "client_secret": "...", "scope": "...",  client_secret_basic
//                 "parameters": {...extra authorization request parameters, max_age checked}},
//     "service": {"client_id": "...", "client_secret": "...", "scope": "..."}  client_secret_post,
//                                                                              client_credentials
//   }
// Output: one JSON object on stdout with what was observed. On any exception: the exception as
// JSON on stderr (with the step it happened in) and exit status 1.

import * as client from 'openid-client'

let step = 'start'

async function readInput() {
  if (process.argv[2]) return JSON.parse(process.argv[2])
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

// -- a browser by hand: fetch with redirect 'manual' and a cookie jar ---------------------------

class Browser {
  constructor(origin) {
    this.origin = new URL(origin).origin
    this.cookies = new Map()
  }

  async request(url, init = {}) {
    url = new URL(url)
    const headers = new Headers(init.headers || {})
    if (url.origin === this.origin && this.cookies.size) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    }
    const response = await fetch(url, { ...init, headers, redirect: 'manual' })
    if (url.origin === this.origin) {
      for (const line of response.headers.getSetCookie()) {
        const [pair, ...attributes] = line.split(';')
        const at = pair.indexOf('=')
        const name = pair.slice(0, at).trim()
        const value = pair.slice(at + 1).trim()
        const gone = attributes.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a))
        if (gone || value === '' || value === '""') this.cookies.delete(name)
        else this.cookies.set(name, value)
      }
    }
    return response
  }

  // GET url and follow redirects within the issuer; stop at (and return) a redirect elsewhere.
  async follow(url, pages, stopAt) {
    let current = new URL(url)
    for (let hops = 0; hops < 10; hops++) {
      const response = await this.request(current)
      if (response.status < 300 || response.status >= 400) {
        return { response, url: current, body: await response.text() }
      }
      const location = new URL(response.headers.get('location'), current)
      pages.push(`${response.status} ${location.origin === this.origin ? location.pathname : 'away'}`)
      if (location.href.startsWith(stopAt) || location.origin !== this.origin) {
        await response.body?.cancel()
        return { response, url: current, location }
      }
      await response.body?.cancel()
      current = location
    }
    throw new Error(`too many redirects from ${url}`)
  }
}

function hidden(html, name) {
  const match = html.match(new RegExp(`name="${name}" value="([^"]*)"`))
  if (!match) throw new Error(`no hidden field ${name} in the page:\n${html}`)
  return match[1].replaceAll('&amp;', '&').replaceAll('&#34;', '"').replaceAll('&quot;', '"')
}

// Play the user from the authorization URL until the provider redirects to the client.
async function authorize(browser, url, input) {
  const pages = []
  let page = await browser.follow(url, pages, input.redirect_uri)
  while (!page.location) {
    const { response, body } = page
    if (response.status !== 200) {
      throw new Error(`the provider answered ${response.status} at ${page.url}:\n${body}`)
    }
    const form = { flow: hidden(body, 'flow'), csrf: hidden(body, 'csrf') }
    let action
    if (page.url.pathname === '/login') {
      pages.push('login form')
      Object.assign(form, { username: input.username, password: input.password })
      action = new URL('/login', page.url)
    } else if (page.url.pathname === '/login/context') {
      pages.push('context chooser')
      const offered = [...body.matchAll(/name="context" value="([^"]*)"/g)].map((m) => m[1])
      if (!offered.includes(input.choose_context)) {
        throw new Error(`context ${input.choose_context} is not offered: ${offered}`)
      }
      form.context = input.choose_context
      action = new URL('/login/context', page.url)
    } else {
      throw new Error(`unexpected page ${page.url}:\n${body}`)
    }
    const posted = await browser.request(action, { method: 'POST', body: new URLSearchParams(form) })
    if (posted.status !== 303) {
      throw new Error(`posting ${action.pathname} gave ${posted.status}:\n${await posted.text()}`)
    }
    await posted.body?.cancel()
    const location = new URL(posted.headers.get('location'), action)
    pages.push(`303 ${location.origin === browser.origin ? location.pathname : 'away'}`)
    page = location.href.startsWith(input.redirect_uri)
      ? { location }
      : await browser.follow(location, pages, input.redirect_uri)
  }
  return { location: page.location, pages }
}

// -- helpers --------------------------------------------------------------------------------

function decodeJwt(token) {
  const [header, payload] = token.split('.').slice(0, 2)
  const part = (text) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  return { header: part(header), payload: part(payload) }
}

async function codeFlow(config, browser, input, scope, parameters = {}) {
  const maxAge = parameters.max_age === undefined ? undefined : Number(parameters.max_age)
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...parameters,
  })
  const { location, pages } = await authorize(browser, url, input)
  const callback = Object.fromEntries(location.searchParams)
  // Checks state, iss (RFC 9207, advertised in the metadata), PKCE, the ID token and its nonce.
  const tokens = await client.authorizationCodeGrant(config, location, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
    maxAge,
  })
  return { tokens, nonce, state, pages, callback_parameters: Object.keys(callback).sort() }
}

// A request that Ostiary must refuse, in a form openid-client understands: an OAuth error body
// or a WWW-Authenticate challenge. Any other exception (a malformed refusal) still fails.
async function refusal(request) {
  try {
    await request()
  } catch (error) {
    if (error instanceof client.ResponseBodyError) {
      return { kind: 'error body', status: error.status, error: error.error }
    }
    if (error instanceof client.WWWAuthenticateChallengeError) {
      const challenges = error.cause.map((c) => ({ scheme: c.scheme, error: c.parameters.error }))
      return { kind: 'challenge', status: error.status, challenges }
    }
    if (error instanceof client.AuthorizationResponseError) {
      return { kind: 'authorization error', error: error.error }
    }
    throw error
  }
  throw new Error('Ostiary accepted a request it must refuse')
}

function summary(tokens) {
  return {
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expiresIn(),
    has_refresh_token: typeof tokens.refresh_token === 'string',
    id_token: tokens.claims() ?? null,
    access_token: decodeJwt(tokens.access_token),
  }
}

// -- the flow -------------------------------------------------------------------------------

async function main() {
  const input = await readInput()
  const issuer = new URL(input.issuer)
  // http on 127.0.0.1 in tests; and verify every ID token's signature against the JWKS too
  // (openid-client trusts TLS for that by default).
  const options = { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] }
  const out = {}

  step = 'discovery'
  const spa = await client.discovery(issuer, input.spa.client_id, undefined, client.None(), options)
  const web = await client.discovery(
    issuer,
    input.web.client_id,
    input.web.client_secret,
    client.ClientSecretBasic(input.web.client_secret),
    options,
  )
  // The resource server and batch job reads the RFC 8414 document (oauth-authorization-server).
  const service = await client.discovery(
    issuer,
    input.service.client_id,
    input.service.client_secret,
    client.ClientSecretPost(input.service.client_secret),
    { ...options, algorithm: 'oauth2' },
  )
  const metadata = spa.serverMetadata()
  out.metadata = {
    issuer: metadata.issuer,
    oauth2_issuer: service.serverMetadata().issuer,
    supportsPKCE: spa.serverMetadata().supportsPKCE(),
    authorization_response_iss_parameter_supported:
      metadata.authorization_response_iss_parameter_supported,
  }

  const browser = new Browser(input.issuer)

  // The public single-page application: sign in with the form, PKCE, auth method none.
  step = 'spa: authorization code grant'
  const first = await codeFlow(spa, browser, input, input.spa.scope)
  out.spa = {
    pages: first.pages,
    callback_parameters: first.callback_parameters,
    nonce: first.nonce,
    ...summary(first.tokens),
  }
  const sub = first.tokens.claims().sub

  step = 'spa: userinfo'
  out.spa.userinfo = await client.fetchUserInfo(spa, first.tokens.access_token, sub)

  step = 'spa: refresh token grant'
  const refreshed = await client.refreshTokenGrant(spa, first.tokens.refresh_token)
  out.spa.refresh = {
    ...summary(refreshed),
    new_refresh_token: refreshed.refresh_token !== first.tokens.refresh_token,
  }

  step = 'spa: introspection by the resource server'
  out.spa.introspection = {
    access_token: await client.tokenIntrospection(service, refreshed.access_token),
    refresh_token: await client.tokenIntrospection(service, refreshed.refresh_token, {
      token_type_hint: 'refresh_token',
    }),
    rotated_refresh_token: await client.tokenIntrospection(service, first.tokens.refresh_token, {
      token_type_hint: 'refresh_token',
    }),
  }

  step = 'spa: revocation of the refresh token'
  await client.tokenRevocation(spa, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
  out.spa.after_revocation = {
    refresh_token: await client.tokenIntrospection(service, refreshed.refresh_token),
    access_token: await client.tokenIntrospection(service, refreshed.access_token),
    refresh: await refusal(() => client.refreshTokenGrant(spa, refreshed.refresh_token)),
    userinfo: await refusal(() => client.fetchUserInfo(spa, refreshed.access_token, sub)),
  }

  // The confidential web application, client_secret_basic, signed in by the same browser
  // session (no form), with Ostiary's context parameter.
  step = 'web: authorization code grant'
  const second = await codeFlow(web, browser, input, input.web.scope, input.web.parameters || {})
  out.web = {
    pages: second.pages,
    callback_parameters: second.callback_parameters,
    nonce: second.nonce,
    ...summary(second.tokens),
  }

  step = 'web: userinfo'
  out.web.userinfo = await client.fetchUserInfo(web, second.tokens.access_token, sub)

  step = 'web: introspection and revocation of its access token'
  out.web.introspection = await client.tokenIntrospection(web, second.tokens.access_token)
  await client.tokenRevocation(web, second.tokens.access_token, { token_type_hint: 'access_token' })
  out.web.after_revocation = {
    access_token: await client.tokenIntrospection(web, second.tokens.access_token),
    refresh_token: await client.tokenIntrospection(web, second.tokens.refresh_token),
  }

  step = 'web: a wrong secret'
  const impostor = new client.Configuration(
    web.serverMetadata(),
    input.web.client_id,
    undefined,
    client.ClientSecretBasic(`not-${input.web.client_secret}`),
  )
  client.allowInsecureRequests(impostor)
  out.web.wrong_secret = await refusal(() =>
    client.tokenIntrospection(impostor, second.tokens.refresh_token),
  )

  // A batch job: client credentials, client_secret_post.
  step = 'service: client credentials grant'
  const parameters = input.service.scope ? { scope: input.service.scope } : {}
  const machine = await client.clientCredentialsGrant(service, parameters)
  out.service = {
    token_type: machine.token_type,
    scope: machine.scope,
    expires_in: machine.expiresIn(),
    has_id_token: 'id_token' in machine,
    has_refresh_token: 'refresh_token' in machine,
    access_token: decodeJwt(machine.access_token),
    introspection: await client.tokenIntrospection(service, machine.access_token),
  }

  // RP-initiated logout, followed by the browser.
  step = 'logout'
  const logoutState = client.randomState()
  const endSession = client.buildEndSessionUrl(web, {
    id_token_hint: second.tokens.id_token,
    post_logout_redirect_uri: input.post_logout_redirect_uri,
    state: logoutState,
  })
  const pages = []
  const left = await browser.follow(endSession, pages, input.post_logout_redirect_uri)
  if (!left.location) {
    throw new Error(`logout did not redirect: ${left.response.status}\n${left.body}`)
  }
  step = 'after logout'
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const request = {
    redirect_uri: input.redirect_uri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  }
  const again = client.buildAuthorizationUrl(spa, request)
  const after = await browser.request(again)
  await after.body?.cancel()
  // prompt=none: the error comes back to the client with state and iss (RFC 9207), both checked.
  const silent = client.buildAuthorizationUrl(spa, { ...request, prompt: 'none' })
  const answer = await browser.follow(silent, [], input.redirect_uri)
  if (!answer.location) throw new Error(`prompt=none did not redirect: ${answer.response.status}`)
  const silently = await refusal(() =>
    client.authorizationCodeGrant(spa, answer.location, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    }),
  )
  out.logout = {
    status: left.response.status,
    location: left.location.href,
    expected_location: `${input.post_logout_redirect_uri}?state=${logoutState}`,
    cookies_left: [...browser.cookies.keys()],
    next_authorization: `${after.status} ${new URL(after.headers.get('location'), again).pathname}`,
    prompt_none: silently,
    web_refresh_token: await client.tokenIntrospection(web, second.tokens.refresh_token),
  }

  process.stdout.write(JSON.stringify(out) + '\n')
}

function describe(error) {
  const seen = {}
  for (const key of ['name', 'message', 'code', 'status', 'error', 'error_description']) {
    if (error?.[key] !== undefined) seen[key] = error[key]
  }
  if (error?.cause !== undefined) {
    const cause = error.cause
    seen.cause =
      cause instanceof URLSearchParams
        ? Object.fromEntries(cause)
        : cause instanceof Error
          ? describe(cause)
          : cause
  }
  if (error?.response instanceof Response) {
    seen.response = {
      status: error.response.status,
      headers: Object.fromEntries(error.response.headers),
    }
  }
  seen.stack = error?.stack
  return seen
}

try {
  await main()
} catch (error) {
  process.stderr.write(JSON.stringify({ step, exception: describe(error) }, null, 2) + '\n')
  process.exit(1)
}
