// A local OpenID Connect provider for casevault's single sign-on tests (never for production).
//
//   node provider.mjs PORT REDIRECT_URI
//
// or OIDC_PORT / OIDC_REDIRECT_URI in the environment. OIDC_CLIENT_ID and OIDC_CLIENT_SECRET
// override the one client's credentials. The issuer is http://127.0.0.1:PORT; it listens on
// loopback only and prints "listening ISSUER" once it accepts connections.
//
// Sign-in is a plain HTML form (login + password) followed by a consent form, so a test can
// drive the whole authorization code flow with an HTTP client and a cookie jar.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.OIDC_PORT);
const redirectUri = process.argv[3] ?? process.env.OIDC_REDIRECT_URI;
const clientId = process.env.OIDC_CLIENT_ID ?? 'casevault-test';
const clientSecret = process.env.OIDC_CLIENT_SECRET ?? 'casevault-test-secret-0123456789';

if (!Number.isInteger(port) || port <= 0 || !redirectUri) {
  console.error('usage: node provider.mjs PORT REDIRECT_URI (or OIDC_PORT and OIDC_REDIRECT_URI)');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${port}`;

// The test accounts: login name → subject, password and claims. Carol's groups are released
// only by the userinfo endpoint, never in her ID token, as many providers do.
const ACCOUNTS = {
  alice: {
    sub: 'u-1001',
    password: 'alice-password',
    claims: {
      name: 'Alice Archivist', preferred_username: 'alice', email: 'alice@example.test',
      email_verified: true, groups: ['archive-staff', 'everyone'],
    },
  },
  bob: {
    sub: 'u-1002',
    password: 'bob-password',
    claims: {
      name: 'Bob Visitor', preferred_username: 'bob', email: 'bob@example.test',
      email_verified: true, groups: ['visitors', 'everyone'],
    },
  },
  carol: {
    sub: 'u-1003',
    password: 'carol-password',
    groupsOnlyInUserinfo: true,
    claims: {
      name: 'Carol Manager', preferred_username: 'carol', email: 'carol@example.test',
      email_verified: true, groups: ['archive-managers'],
    },
  },
};
const BY_SUB = Object.fromEntries(Object.values(ACCOUNTS).map((account) => [account.sub, account]));

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Scope-requested claims go into the ID token too (the default keeps them for userinfo only).
  conformIdTokenClaims: false,
  pkce: { methods: ['S256'], required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  async findAccount(_ctx, id) {
    const account = BY_SUB[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims(use) {
        const released = { sub: id, ...account.claims };
        if (use === 'id_token' && account.groupsOnlyInUserinfo) delete released.groups;
        return released;
      },
    };
  },
});

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginForm(uid, error) {
  return page('Sign in', `${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
  <input name="login" autocomplete="username"> <input name="password" type="password">
  <button type="submit">Sign in</button>
</form>`);
}

function consentForm(uid, clientName) {
  return page('Authorize', `<p>Allow ${escape(clientName)} to know who you are?</p>
<form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Continue</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 10_000) throw new Error('form too large');
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

// The login and consent interaction, mounted in front of the provider's own routes.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, step] = match;
  ctx.set('Cache-Control', 'no-store');
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  if (interaction.uid !== uid) ctx.throw(400, 'interaction mismatch');
  const { prompt: { name, details }, params, grantId } = interaction;

  if (ctx.method === 'GET' && !step) {
    ctx.type = 'html';
    ctx.body = name === 'login' ? loginForm(uid) : consentForm(uid, params.client_id);
    return undefined;
  }
  if (ctx.method !== 'POST' || !step) ctx.throw(405);

  let result;
  if (step === 'abort') {
    result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
  } else if (step === 'login') {
    if (name !== 'login') ctx.throw(400, 'not a login prompt');
    const form = await formBody(ctx.req);
    const account = ACCOUNTS[form.login];
    if (!account || account.password !== form.password) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginForm(uid, 'unknown login or wrong password');
      return undefined;
    }
    result = { login: { accountId: account.sub } };
  } else {
    if (name !== 'consent') ctx.throw(400, 'not a consent prompt');
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: interaction.session.accountId, clientId: params.client_id });
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
