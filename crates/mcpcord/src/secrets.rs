//! The secret key logins to remote MCP servers are sealed with (`MCPCORD_SECRET_KEY`), and the
//! sealing itself: AES-256-GCM (ring) with a random 96-bit nonce per seal and associated data
//! naming the server and its URL, so a sealed row moved to another server (or URL) does not
//! open.
//!
//! The key (`MCPCORD_SECRET_KEY`, or the file `MCPCORD_SECRET_KEY_FILE` names) is 32 random
//! bytes written in base64 (standard or URL-safe, padded or not) or as 64 hex digits; there is
//! no passphrase: `head -c32 /dev/urandom | base64` makes one. Its id (the first 8
//! hex digits of its SHA-256) is stored beside each sealed row, so a changed key is reported as
//! such, with the command that logs in again, rather than as damage.
//!
//! A sealed blob is: version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext and tag.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// The environment variable the key is read from.
pub const SECRET_KEY_VAR: &str = "MCPCORD_SECRET_KEY";

/// The environment variable naming a file the key is read from instead (for systemd
/// credentials, Docker secrets and the like).
pub const SECRET_KEY_FILE_VAR: &str = "MCPCORD_SECRET_KEY_FILE";

/// The first byte of every sealed blob this version writes.
const VERSION: u8 = 1;

/// The key's length in bytes (AES-256).
const KEY_LEN: usize = 32;

/// How to make a key, for error messages.
const HOW_TO_MAKE: &str = "it must be 32 random bytes written in base64 (standard or URL-safe) \
                           or as 64 hex digits: make one with `head -c32 /dev/urandom | base64` (or \
                           `openssl rand -base64 32`)";

/// The key is missing or is not a key. The message never quotes the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// No key is set, and something needs one.
    #[error(
        "{SECRET_KEY_VAR} is not set: logins to MCP servers are stored encrypted with it; \
         {HOW_TO_MAKE}"
    )]
    Missing,
    /// The value is not 32 bytes in one of the accepted forms.
    #[error("{SECRET_KEY_VAR} is not a usable key ({reason}); {HOW_TO_MAKE}")]
    Invalid {
        /// What is wrong with it (never the value itself).
        reason: String,
    },
    /// Both the key and a key file are given.
    #[error("both {SECRET_KEY_VAR} and {SECRET_KEY_FILE_VAR} are set: unset one of them")]
    Both,
    /// The key file cannot be read.
    #[error(
        "cannot read the key file {path} ({SECRET_KEY_FILE_VAR}): check that it exists and that \
         this user may read it"
    )]
    File {
        /// The file's path.
        path: String,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
}

/// A stored login cannot be opened; the message names the command that makes a new one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsealError {
    /// The row was sealed with another key (the key was changed or rotated).
    #[error(
        "the stored login of `{server}` was sealed with another {SECRET_KEY_VAR} (key id \
         {stored}; this one is {current}): run `mcpcord mcp login {server}` (or set the key \
         it was sealed with)"
    )]
    OtherKey {
        /// The server the login is for.
        server: String,
        /// The id of the key that sealed it.
        stored: String,
        /// The id of the key set now.
        current: String,
    },
    /// The row does not open with this key: changed, damaged, or moved from another server or
    /// URL.
    #[error(
        "the stored login of `{server}` cannot be opened (it was changed or damaged, or is for \
         another server or URL): run `mcpcord mcp login {server}`"
    )]
    Damaged {
        /// The server the login is for.
        server: String,
    },
}

/// Sealing failed: the system's random number generator (or the cipher) refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot encrypt the login of `{server}`: the system's random number generator failed; \
     check /dev/urandom (or getrandom) works for this user and try again"
)]
pub struct SealError {
    /// The server the login is for.
    pub server: String,
}

/// The key logins are sealed with. `Debug` shows its id only.
#[derive(Clone)]
pub struct SecretKey {
    key: LessSafeKey,
    id: String,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish()
    }
}

impl SecretKey {
    /// Reads the key from `MCPCORD_SECRET_KEY`, or from the file `MCPCORD_SECRET_KEY_FILE`
    /// names; `None` when neither is set (or both are empty).
    pub fn from_env() -> Result<Option<SecretKey>, SecretKeyError> {
        let value = match std::env::var(SECRET_KEY_VAR) {
            Ok(text) => Some(Zeroizing::new(text)),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(SecretKeyError::Invalid {
                    reason: "it is not text".into(),
                });
            }
        };
        let file = std::env::var_os(SECRET_KEY_FILE_VAR).map(std::path::PathBuf::from);
        SecretKey::from_sources(value.as_deref().map(String::as_str), file.as_deref())
    }

    /// The key given as `value` (the variable's text) or in the file at `file`; either empty
    /// counts as not given, and giving both is an error.
    pub fn from_sources(
        value: Option<&str>,
        file: Option<&std::path::Path>,
    ) -> Result<Option<SecretKey>, SecretKeyError> {
        let value = value.filter(|text| !text.trim().is_empty());
        let file = file.filter(|path| !path.as_os_str().is_empty());
        match (value, file) {
            (Some(_), Some(_)) => Err(SecretKeyError::Both),
            (Some(text), None) => SecretKey::parse(text).map(Some),
            (None, Some(path)) => SecretKey::read_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The key in the file at `path` (as [`parse`](Self::parse) reads it).
    fn read_file(path: &std::path::Path) -> Result<SecretKey, SecretKeyError> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|source| SecretKeyError::File {
                path: path.display().to_string(),
                source,
            })?;
        SecretKey::parse(&text).map_err(|error| match error {
            SecretKeyError::Invalid { reason } => SecretKeyError::Invalid {
                reason: format!("{reason}, in the file {}", path.display()),
            },
            other => other,
        })
    }

    /// Reads the key as [`from_env`](Self::from_env) does; one must be set.
    pub fn required_from_env() -> Result<SecretKey, SecretKeyError> {
        SecretKey::from_env()?.ok_or(SecretKeyError::Missing)
    }

    /// The key written as `text`: 64 hex digits, or base64 (standard or URL-safe alphabet,
    /// padded or not) of 32 bytes; spaces around it are ignored.
    pub fn parse(text: &str) -> Result<SecretKey, SecretKeyError> {
        let bytes = decode(text.trim())?;
        if bytes.len() != KEY_LEN {
            return Err(SecretKeyError::Invalid {
                reason: format!("it is {} bytes, not {KEY_LEN}", bytes.len()),
            });
        }
        Ok(SecretKey::from_bytes(&bytes))
    }

    /// The key of 32 `bytes`.
    fn from_bytes(bytes: &[u8]) -> SecretKey {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let id = hex(&digest.as_ref()[..4]);
        // 32 bytes is AES-256's key length: `new` cannot refuse it.
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256 key");
        SecretKey {
            key: LessSafeKey::new(unbound),
            id,
        }
    }

    /// The key's id: the first 8 hex digits of its SHA-256, stored beside what it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plain`, the login of `server` at `resource` (its MCP URL), under a fresh nonce.
    pub fn seal(&self, server: &str, resource: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let failed = || SealError {
            server: server.to_owned(),
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| failed())?;
        // Encrypted in place, with room for the tag: no copy of the plaintext is left behind.
        let mut body = Vec::with_capacity(plain.len() + AES_256_GCM.tag_len());
        body.extend_from_slice(plain);
        let aad = associated_data(server, resource);
        let sealing = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_slice()),
            &mut body,
        );
        sealing.map_err(|_| failed())?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + body.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// Opens `sealed`, the login of `server` at `resource` sealed by the key `key_id`.
    pub fn unseal(
        &self,
        server: &str,
        resource: &str,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
        if key_id != self.id {
            return Err(UnsealError::OtherKey {
                server: server.to_owned(),
                stored: key_id.to_owned(),
                current: self.id.clone(),
            });
        }
        let damaged = || UnsealError::Damaged {
            server: server.to_owned(),
        };
        let (nonce, body) = split_blob(sealed).ok_or_else(damaged)?;
        let mut body = Zeroizing::new(body.to_vec());
        let aad = associated_data(server, resource);
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_slice()), &mut body)
            .map_err(|_| damaged())?;
        let len = plain.len();
        body.truncate(len);
        Ok(body)
    }
}

/// The nonce and the ciphertext with its tag of a blob of this version; `None` when it is not
/// one.
fn split_blob(sealed: &[u8]) -> Option<(Nonce, &[u8])> {
    let (&version, rest) = sealed.split_first()?;
    if version != VERSION || rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return None;
    }
    let (nonce, body) = rest.split_at(NONCE_LEN);
    Some((Nonce::try_assume_unique_for_key(nonce).ok()?, body))
}

/// What a sealed login is bound to: its server and URL. The server name's length comes first,
/// so no two (server, URL) pairs give the same bytes, whatever characters they hold.
fn associated_data(server: &str, resource: &str) -> Vec<u8> {
    format!("mcpcord:mcp:{}:{server}\0{resource}", server.len()).into_bytes()
}

/// The bytes `text` writes, as hex (exactly 64 digits) or base64.
fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, SecretKeyError> {
    if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Zeroizing::new(unhex(text)));
    }
    STANDARD_PAD_INDIFFERENT
        .decode(text)
        .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
        .map(Zeroizing::new)
        .map_err(|_| SecretKeyError::Invalid {
            reason: "it is neither base64 nor 64 hex digits".into(),
        })
}

/// Hex digits (already checked) as bytes.
fn unhex(text: &str) -> Vec<u8> {
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
    text.as_bytes()
        .chunks(2)
        .map(|pair| digit(pair[0]) << 4 | digit(pair[1]))
        .collect()
}

/// `bytes` as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
