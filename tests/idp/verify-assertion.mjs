// Verifies a portcullis identity assertion the way a JavaScript dashboard would,
// with `jose` (docs/identity-assertion.md), against the JWK Set portcullis
// publishes. Usage: node verify-assertion.mjs JWKS_URL TOKEN ISSUER AUDIENCE
// Prints the verified payload and header as JSON, or exits 1 with the reason.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, token, issuer, audience] = process.argv.slice(2);
try {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    algorithms: ['EdDSA'],
  });
  console.log(JSON.stringify({ payload, protectedHeader }));
} catch (e) {
  console.error(`${e.code ?? 'error'}: ${e.message}`);
  process.exit(1);
}
