//! Logins to OAuth MCP servers kept in mcpcord's database ([`DbVault`]): sealed with
//! `MCPCORD_SECRET_KEY` ([`crate::secrets`]) before they are written, opened after they are
//! read, so the database never holds a token in clear. Processes sharing the database refresh
//! a login one at a time ([`mcpcord_memory::Store::lock_mcp_refresh`]).

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use mcpcord_mcp::{CredentialVault, SavedAuth};
use mcpcord_memory::{SealedCredentials, Store};
use zeroize::Zeroizing;

use crate::secrets::SecretKey;

/// A [`CredentialVault`] over the store, sealing each login with the secret key.
#[derive(Clone)]
pub struct DbVault {
    store: Store,
    key: Arc<SecretKey>,
}

impl DbVault {
    /// The vault of `store`, sealing with `key`.
    pub fn new(store: Store, key: SecretKey) -> DbVault {
        DbVault {
            store,
            key: Arc::new(key),
        }
    }
}

impl fmt::Debug for DbVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbVault")
            .field("backend", &self.store.backend())
            .field("key", &self.key)
            .finish()
    }
}

/// What to say when the database fails while reading or writing `server`'s login.
fn database_error(server: &str, doing: &str, error: &mcpcord_memory::MemoryError) -> String {
    format!(
        "cannot {doing} the stored login of `{server}` (check that the database is reachable, \
         then try again): {}",
        mcpcord_llm::redact::error_chain(error)
    )
}

/// The login of `server` in `row`, opened with `key`.
fn open(key: &SecretKey, server: &str, row: &SealedCredentials) -> Result<SavedAuth, String> {
    let plain = key
        .unseal(server, &row.resource, &row.key_id, &row.sealed)
        .map_err(|error| error.to_string())?;
    serde_json::from_slice(&plain).map_err(|_| {
        format!(
            "the stored login of `{server}` is not one this version can read: run \
             `mcpcord mcp login {server}`"
        )
    })
}

/// `auth`, the login of `server`, sealed into a row.
fn seal(key: &SecretKey, server: &str, auth: &SavedAuth) -> Result<SealedCredentials, String> {
    let plain = Zeroizing::new(
        serde_json::to_vec(auth).map_err(|error| format!("cannot encode a login: {error}"))?,
    );
    let sealed = key
        .seal(server, &auth.resource, &plain)
        .map_err(|error| error.to_string())?;
    Ok(SealedCredentials {
        server: server.to_owned(),
        resource: auth.resource.clone(),
        key_id: key.id().to_owned(),
        sealed,
        expires_at: auth.expires_at,
        updated_at: 0,
    })
}

impl CredentialVault for DbVault {
    fn load(&self, server: &str) -> BoxFuture<'static, Result<Option<SavedAuth>, String>> {
        let (vault, server) = (self.clone(), server.to_owned());
        Box::pin(async move {
            let row = vault
                .store
                .load_mcp_credentials(&server)
                .await
                .map_err(|error| database_error(&server, "read", &error))?;
            row.map(|row| open(&vault.key, &server, &row)).transpose()
        })
    }

    fn save(&self, server: &str, auth: SavedAuth) -> BoxFuture<'static, Result<(), String>> {
        let (vault, server) = (self.clone(), server.to_owned());
        Box::pin(async move {
            let row = seal(&vault.key, &server, &auth)?;
            vault
                .store
                .save_mcp_credentials(row)
                .await
                .map_err(|error| database_error(&server, "write", &error))?;
            Ok(())
        })
    }

    fn clear(&self, server: &str) -> BoxFuture<'static, Result<(), String>> {
        let (vault, server) = (self.clone(), server.to_owned());
        Box::pin(async move {
            vault
                .store
                .delete_mcp_credentials(&server)
                .await
                .map_err(|error| database_error(&server, "delete", &error))?;
            Ok(())
        })
    }

    fn refresh_lock(&self, server: &str) -> BoxFuture<'static, Result<Box<dyn Send>, String>> {
        let (vault, server) = (self.clone(), server.to_owned());
        Box::pin(async move {
            let lock = vault
                .store
                .lock_mcp_refresh(&server)
                .await
                .map_err(|error| database_error(&server, "lock for a refresh", &error))?;
            Ok(Box::new(lock) as Box<dyn Send>)
        })
    }
}

#[cfg(test)]
mod tests;
