"""Verifies a portcullis identity assertion the way a Python dashboard would,
with PyJWT (the snippet in docs/identity-assertion.md, word for word in
`identity`). Run by tests/it/assertion.rs with the Hermes virtualenv's Python,
which has PyJWT and cryptography.

Usage: python verify_assertion.py JWKS_URL TOKEN ISSUER AUDIENCE
Prints the verified claims as JSON, or exits 1 with the reason.
"""
import json
import sys

import jwt

JWKS_URL, TOKEN, ISSUER, AUDIENCE = sys.argv[1:5]

# --- the docs' snippet ---
jwks = jwt.PyJWKClient(JWKS_URL)


def identity(headers):
    token = headers["X-Portcullis-Assertion"]
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER)
# --- end of the snippet ---


try:
    print(json.dumps(identity({"X-Portcullis-Assertion": TOKEN})))
except Exception as e:  # the reason is the test's to show
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
