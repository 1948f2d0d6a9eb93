// A real OpenID Connect provider (panva/oidc-provider) for the sign-in tests: started on a
// free local port, with two accounts (one address verified, one not) and one client whose
// id, secret and redirect URI come from the environment. It prints its issuer URL on the
// first line of its output and runs until killed.
import http from 'node:http';
import Provider from 'oidc-provider';

const accounts = {
  ada: { email: 'ada@example.com', email_verified: true },
  eve: { email: 'eve@example.com', email_verified: false },
};

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    findAccount: async (ctx, id) => (accounts[id]
      ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) }
      : undefined),
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['variosync-test-provider-cookie-key'] },
  });
  // Quiet: the tests read the first line only.
  provider.on('server_error', (ctx, error) => console.error(error));
  server.on('request', provider.callback());
  console.log(issuer);
});
