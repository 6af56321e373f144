//! Test hooks (the `test-hooks` feature only): make the IdP misbehave, rotate or
//! replace its signing key, and see the redirect URIs it was sent.

use super::{DevIdp, Faults, SigningKey};

impl DevIdp {
    /// Changes how the IdP misbehaves from now on.
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut f) = self.inner.faults.lock() {
            *f = faults;
        }
    }

    /// Replaces the signing key (new `kid`), as an IdP rotating its keys does.
    pub fn rotate_key(&self) -> Result<(), String> {
        let fresh = SigningKey::generate()?;
        if let Ok(mut key) = self.inner.key.write() {
            *key = fresh;
        }
        Ok(())
    }

    /// Replaces the signing key but keeps its `kid`, as some IdPs do when they
    /// re-key: a cached JWKS then holds a stale key under the right id.
    pub fn rekey_same_kid(&self) -> Result<(), String> {
        let mut fresh = SigningKey::generate()?;
        if let Ok(mut key) = self.inner.key.write() {
            fresh.kid = key.kid.clone();
            *key = fresh;
        }
        Ok(())
    }

    /// The `redirect_uri` of every authorization request so far.
    pub fn seen_redirect_uris(&self) -> Vec<String> {
        self.inner
            .seen_redirect_uris
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}
