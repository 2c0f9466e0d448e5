//! Keeping the bot's secrets out of reach of the programs it launches (MCP servers).
//!
//! A child gets only the environment its configuration names, but it can still look at its
//! parent: `/proc/<bot pid>/environ` shows the environment block the bot was *started* with,
//! whatever the bot did to its environment later (`remove_var` only drops a pointer; the bytes
//! stay where the kernel put them). Two measures, both taken here:
//!
//! 1. [`at_start`] marks the process non-dumpable (`PR_SET_DUMPABLE = 0`): `/proc/<pid>/environ`,
//!    `/proc/<pid>/mem` and ptrace then need root (CAP_SYS_PTRACE). It also remembers where each
//!    `NAME=value` string of the original environment block lives.
//! 2. [`scrub_env`], once the configuration has been read, overwrites in place the value bytes
//!    of every variable that held a secret (`DISCORD_TOKEN`, `DATABASE_URL`, API keys …) with
//!    zeros, in that original block and in any copy `setenv` made (from `.env`). A child running
//!    as root, which measure 1 does not stop, then reads `DISCORD_TOKEN=` followed by zeros.
//!
//! What this does not cover: a root child can still read the bot's heap through
//! `/proc/<pid>/mem` (the token has to live somewhere); against that, run MCP servers under
//! another user, or give the token through `discord.token_file` / systemd credentials so it
//! never sits in any environment at all.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::config::Config;

/// Where each `NAME=value` C string of the original environment starts (addresses), read once
/// at start before anything could change the environment.
static ORIGINAL: OnceLock<Vec<usize>> = OnceLock::new();

#[cfg(unix)]
unsafe extern "C" {
    /// POSIX's environment: a null-terminated array of `NAME=value` C strings.
    static mut environ: *mut *mut libc::c_char;
}

/// The first thing `main` does: no core dumps or ptrace by other users, and note where the
/// original environment's strings are so [`scrub_env`] can overwrite them. Idempotent.
pub fn at_start() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers and only changes this process's flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    ORIGINAL.get_or_init(environment_strings);
}

/// The addresses of the environment's `NAME=value` strings now.
fn environment_strings() -> Vec<usize> {
    let mut out = Vec::new();
    #[cfg(unix)]
    // SAFETY: `environ` is a valid, null-terminated array of pointers to NUL-terminated
    // strings (POSIX). It is only read here, and [`at_start`] and [`scrub_env`] run while the
    // process has a single thread, so nothing changes it meanwhile.
    unsafe {
        let mut entry = std::ptr::addr_of!(environ).read();
        if entry.is_null() {
            return out;
        }
        while !(*entry).is_null() {
            out.push(*entry as usize);
            entry = entry.add(1);
        }
    }
    out
}

/// The names of the environment variables that may hold one of `config`'s secrets:
/// the conventional ones, their `MCPCORD__` forms, the secret key of OAuth logins, every
/// backend's `api_key_env`, every MCP server's `MCPCORD_MCP_<NAME>_CLIENT_SECRET`, and any
/// `MCPCORD__` override of a token, URL, key, MCP `env` value or header. (The configuration,
/// read before the scrub, holds what they said.)
pub fn secret_variables(config: &Config) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = [
        "DISCORD_TOKEN",
        "MCPCORD__DISCORD__TOKEN",
        "DATABASE_URL",
        "MCPCORD__STORAGE__URL",
        crate::secrets::SECRET_KEY_VAR,
    ]
    .map(String::from)
    .into();
    names.extend(config.backends.iter().filter_map(|b| b.api_key_env.clone()));
    names.extend(config.admin.token_env.clone());
    names.extend(
        config
            .mcp
            .servers
            .iter()
            .map(|server| crate::config::client_secret_var(&server.name)),
    );
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let upper = name.to_ascii_uppercase();
        if upper.starts_with(crate::config::PREFIX)
            && (upper.ends_with("TOKEN")
                || upper.ends_with("__URL")
                || upper.ends_with("KEY")
                || upper.contains("__ENV__")
                || upper.contains("__HEADERS__"))
        {
            names.insert(name.to_owned());
        }
    }
    names
}

/// Overwrites with zeros, in place, the values of the variables named in `names`: in the
/// environment block the process started with (what `/proc/self/environ` shows) and in the
/// current environment. Afterwards those variables read as empty.
///
/// Call it while the process has a single thread (before the async runtime starts): nothing
/// may read the environment while its bytes change.
pub fn scrub_env(names: &BTreeSet<String>) {
    if names.is_empty() {
        return;
    }
    let mut strings: BTreeSet<usize> = ORIGINAL
        .get()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    strings.extend(environment_strings());
    for address in strings {
        // SAFETY: every address came from `environ` (now or at start) and points to a
        // NUL-terminated `NAME=value` string in writable memory: the original block on the
        // stack, which the process owns for its whole life and which environment changes
        // never free, or a string `setenv` allocated and still holds. Only bytes before the
        // terminating NUL are written, and no other thread runs (see above).
        unsafe {
            let start = address as *mut libc::c_char;
            // Read first (the borrow ends here), then write through the raw pointer.
            let value = {
                let entry = std::ffi::CStr::from_ptr(start).to_bytes();
                entry.iter().position(|&b| b == b'=').and_then(|equals| {
                    let name = std::str::from_utf8(&entry[..equals]).ok()?;
                    names
                        .contains(name)
                        .then_some((equals + 1, entry.len() - equals - 1))
                })
            };
            if let Some((offset, len)) = value {
                std::ptr::write_bytes(start.add(offset), 0, len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variables_name_the_conventional_ones_and_api_keys() {
        let config = Config::from_toml(
            "[[backends]]\nname = \"a\"\nurl = \"http://h:1\"\napi_key_env = \"PATH\"\n",
            &[("PATH".to_string(), "key-value".to_string())].into(),
        )
        .unwrap();
        let names = secret_variables(&config);
        for name in [
            "DISCORD_TOKEN",
            "DATABASE_URL",
            "MCPCORD__DISCORD__TOKEN",
            "PATH",
            "MCPCORD_SECRET_KEY",
        ] {
            assert!(names.contains(name), "{name} in {names:?}");
        }
    }

    #[test]
    fn each_mcp_servers_client_secret_variable_is_scrubbed() {
        let config = Config::from_toml(
            "[mcp.servers.web-search]\nurl = \"https://mcp.example.com/mcp\"\n\
             auth = \"oauth\"\n[mcp.servers.web-search.oauth]\nclient_id = \"bot\"\n",
            &[(
                "MCPCORD_MCP_WEB_SEARCH_CLIENT_SECRET".to_string(),
                "cs-1".to_string(),
            )]
            .into(),
        )
        .unwrap();
        let names = secret_variables(&config);
        assert!(
            names.contains("MCPCORD_MCP_WEB_SEARCH_CLIENT_SECRET"),
            "{names:?}"
        );
        let oauth = config.mcp.servers[0].oauth().unwrap();
        assert_eq!(
            oauth.client_secret.as_ref().map(|s| s.expose()),
            Some("cs-1"),
            "read from the variable before the scrub"
        );
    }
}
