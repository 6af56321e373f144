// A real OpenID Provider for portcullis's tests: the certified `oidc-provider`
// package on loopback, with its development login form (any login name signs in).
//
// Environment: IDP_PORT, IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_REDIRECT_URIS and
// IDP_POST_LOGOUT_URIS (comma separated), IDP_BACKCHANNEL_LOGOUT_URI and
// IDP_BACKCHANNEL_SID (`no`: logout tokens name the subject only) and
// IDP_REFRESH_TOKENS (`yes`: every sign-in gets a refresh token).
// Prints `IDP_READY <issuer>` when it
// listens, one line `IDP_AUTHORIZE redirect_uri=<uri>` per authorization request,
// `IDP_TOKEN_REVOKED` when an access token is revoked (RFC 7009) and
// `IDP_END_SESSION` when an RP-initiated logout completes, and
// `IDP_BACKCHANNEL ok|error <why>` for each back-channel logout it delivered,
// `IDP_REFRESHED` for each refresh-token grant and `IDP_GRANTS_REVOKED <n>` when
// a test revokes an account's refresh tokens, so tests can check what the IdP
// was sent and did.
//
// Accounts: any login name signs in; names starting with `admin` are in the group
// `admins`, everyone else in `users` (the `groups` claim, scope `groups`).
import Provider from 'oidc-provider';

const port = Number(process.env.IDP_PORT || 0);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.IDP_CLIENT_ID,
    client_secret: process.env.IDP_CLIENT_SECRET,
    redirect_uris: (process.env.IDP_REDIRECT_URIS || '').split(',').filter(Boolean),
    post_logout_redirect_uris: (process.env.IDP_POST_LOGOUT_URIS || '').split(',').filter(Boolean),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...(process.env.IDP_BACKCHANNEL_LOGOUT_URI ? {
      backchannel_logout_uri: process.env.IDP_BACKCHANNEL_LOGOUT_URI,
      backchannel_logout_session_required: process.env.IDP_BACKCHANNEL_SID !== 'no',
    } : {}),
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.com`,
          email_verified: true,
          name: `Test User ${id}`,
          groups: id.startsWith('admin') ? ['admins'] : ['users'],
        };
      },
    };
  },
  pkce: { required: () => true },
  // With IDP_REFRESH_TOKENS=yes, every sign-in gets a refresh token, so a
  // relying party can re-check it.
  async issueRefreshToken(_ctx, client) {
    return process.env.IDP_REFRESH_TOKENS === 'yes' && client.grantTypeAllowed('refresh_token');
  },
  // The IdP refuses to call special-use addresses (SSRF protection); here
  // every relying party is on loopback, so its back-channel calls go there.
  fetch(url, options) {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  cookies: { keys: ['portcullis-test-idp-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
});

// Refresh tokens by account, so a test can revoke a person's grants at the IdP
// (POST /test/revoke-grants?account=NAME), as an admin disabling them would.
const refreshTokens = new Map();
provider.on('refresh_token.saved', (token) => {
  const list = refreshTokens.get(token.accountId) || [];
  list.push(token);
  refreshTokens.set(token.accountId, list);
});
provider.on('grant.success', (ctx) => {
  if (ctx.oidc.params && ctx.oidc.params.grant_type === 'refresh_token') console.log('IDP_REFRESHED');
});

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/revoke-grants' && ctx.method === 'POST') {
    const tokens = refreshTokens.get(ctx.query.account) || [];
    for (const token of tokens) await token.destroy();
    refreshTokens.delete(ctx.query.account);
    console.log(`IDP_GRANTS_REVOKED ${tokens.length}`);
    ctx.body = 'ok';
    return;
  }
  if (ctx.path === '/auth' && ctx.query.redirect_uri) {
    console.log(`IDP_AUTHORIZE redirect_uri=${ctx.query.redirect_uri}`);
  }
  await next();
});

provider.on('access_token.destroyed', () => console.log('IDP_TOKEN_REVOKED'));
provider.on('end_session.success', () => console.log('IDP_END_SESSION'));
provider.on('backchannel.success', () => console.log('IDP_BACKCHANNEL ok'));
provider.on('backchannel.error', (_ctx, err) => console.log(`IDP_BACKCHANNEL error ${err && err.message}`));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`IDP_READY ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
