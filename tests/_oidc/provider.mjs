// An OpenID provider (npm's oidc-provider) on 127.0.0.1, for the auth tests.
//
//   node provider.mjs '{"accounts": {"ada": {"groups": ["admin"], "tenant": "acme"}}}'
//
// Listens on a free port, prints one JSON line {"issuer": "http://127.0.0.1:PORT"} when
// ready, and serves until stdin closes (the test ends) or it is killed. Clients register
// themselves at /reg (dynamic registration is open: this provider only lives on loopback
// for a test). Its login page accepts any login with any password, as oidc-provider's
// development interactions do; the account's claims come from "accounts".
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const options = JSON.parse(process.argv[2] || '{}');
const accounts = options.accounts || {};

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signing = { ...(await exportJWK(privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks: { keys: [signing] },
  cookies: { keys: ['a cookie key for the loopback test provider only'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups', 'tenant'],
  },
  async findAccount(ctx, sub) {
    const account = accounts[sub] || {};
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: `${sub}@example.test`,
          email_verified: true,
          name: account.name || `User ${sub}`,
          groups: account.groups || ['users'],
          ...(account.tenant ? { tenant: account.tenant } : {}),
        };
      },
    };
  },
});

// oidc-provider warns on stderr about development-only settings; the test reads stdout only.
server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.stdin.resume();
process.stdin.on('end', () => server.close(() => process.exit(0)));
