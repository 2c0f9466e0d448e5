//! Tool names as the model sees them.
//!
//! MCP allows `[A-Za-z0-9_.-]{1,128}`; the model APIs allow less (OpenAI: `[A-Za-z0-9_-]{1,64}`).
//! A tool keeps its own name when that is valid and unique across servers; otherwise it becomes
//! `server__tool`; a name still too long or still taken gets a short stable hash instead of its
//! tail. The mapping back is kept by the catalogue, so the exact original name is always called.

use std::collections::{BTreeMap, BTreeSet};

/// Longest exposed name (OpenAI's function-name limit).
pub const MAX_NAME_LEN: usize = 64;
/// Separator between the server prefix and the tool name.
pub const PREFIX_SEPARATOR: &str = "__";

/// `name` with every character outside `[A-Za-z0-9_-]` replaced by `_` (so `.` becomes `_`).
pub fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "tool".to_owned()
    } else {
        cleaned
    }
}

/// Exposed names for `(server, tool)` pairs, in the same order. Deterministic: the same pairs
/// always get the same names.
pub fn assign(pairs: &[(String, String)]) -> Vec<String> {
    let mut uses: BTreeMap<String, usize> = BTreeMap::new();
    for (_, tool) in pairs {
        *uses.entry(sanitize(tool)).or_default() += 1;
    }
    let mut taken = BTreeSet::new();
    let mut out = Vec::with_capacity(pairs.len());
    // First pass: names that need no prefix claim theirs before prefixed ones are built.
    let mut wanted: Vec<String> = Vec::with_capacity(pairs.len());
    for (server, tool) in pairs {
        let plain = sanitize(tool);
        let name = if uses[&plain] == 1 {
            plain
        } else {
            format!("{}{PREFIX_SEPARATOR}{plain}", sanitize(server))
        };
        wanted.push(name);
    }
    for ((server, tool), name) in pairs.iter().zip(wanted) {
        let name = if name.len() <= MAX_NAME_LEN && !taken.contains(&name) {
            name
        } else {
            hashed(&name, server, tool, &taken)
        };
        taken.insert(name.clone());
        out.push(name);
    }
    out
}

/// `name` cut to fit with a hash of the original pair appended, unique among `taken`.
fn hashed(name: &str, server: &str, tool: &str, taken: &BTreeSet<String>) -> String {
    for salt in 0u32.. {
        let hash = fnv1a(&format!("{server}\0{tool}\0{salt}"));
        let suffix = format!("_{:08x}", hash as u32);
        let keep = MAX_NAME_LEN - suffix.len();
        let head: String = name.chars().take(keep).collect();
        let candidate = format!("{head}{suffix}");
        if !taken.contains(&candidate) {
            return candidate;
        }
    }
    unreachable!("some salt gives a free name")
}

/// FNV-1a, 64 bits: small, and stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Whether `name` is valid for the model APIs.
pub fn is_valid(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(s, t)| ((*s).to_owned(), (*t).to_owned()))
            .collect()
    }

    #[test]
    fn unique_valid_names_are_kept() {
        let names = assign(&pairs(&[("fs", "read_file"), ("time", "get-time")]));
        assert_eq!(names, ["read_file", "get-time"]);
    }

    #[test]
    fn collisions_are_prefixed_with_the_server() {
        let names = assign(&pairs(&[("a", "echo"), ("b", "echo"), ("b", "add")]));
        assert_eq!(names, ["a__echo", "b__echo", "add"]);
    }

    #[test]
    fn dots_and_other_characters_are_mapped() {
        let names = assign(&pairs(&[("gh", "repos.list"), ("x", "wéird name")]));
        assert_eq!(names, ["repos_list", "w_ird_name"]);
        assert!(names.iter().all(|n| is_valid(n)));
    }

    #[test]
    fn names_that_sanitize_alike_stay_distinct() {
        let names = assign(&pairs(&[("s", "a.b"), ("s", "a_b")]));
        assert_eq!(names[0], "s__a_b");
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| is_valid(n)), "{names:?}");
    }

    #[test]
    fn long_names_are_cut_with_a_stable_hash() {
        let long = "x".repeat(128);
        let input = pairs(&[("server", &long), ("other", &long)]);
        let names = assign(&input);
        assert!(names.iter().all(|n| is_valid(n)), "{names:?}");
        assert_ne!(names[0], names[1]);
        assert!(names[0].starts_with("server__xxx"));
        assert_eq!(assign(&input), names, "deterministic");
    }
}
