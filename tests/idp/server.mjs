// A real OpenID Provider for portcullis's tests: the certified `oidc-provider`
// package on loopback, with its development login form (any login name signs in).
//
// Environment: IDP_PORT, IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_REDIRECT_URIS and
// IDP_POST_LOGOUT_URIS (comma separated). Prints `IDP_READY <issuer>` when it
// listens, one line `IDP_AUTHORIZE redirect_uri=<uri>` per authorization request,
// `IDP_TOKEN_REVOKED` when an access token is revoked (RFC 7009) and
// `IDP_END_SESSION` when an RP-initiated logout completes, so tests can check what
// the IdP was sent and did.
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
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
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
  cookies: { keys: ['portcullis-test-idp-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path === '/auth' && ctx.query.redirect_uri) {
    console.log(`IDP_AUTHORIZE redirect_uri=${ctx.query.redirect_uri}`);
  }
  await next();
});

provider.on('access_token.destroyed', () => console.log('IDP_TOKEN_REVOKED'));
provider.on('end_session.success', () => console.log('IDP_END_SESSION'));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`IDP_READY ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
