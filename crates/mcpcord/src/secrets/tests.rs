use super::*;

const SERVER: &str = "search";
const RESOURCE: &str = "https://search.example/mcp";
const LOGIN: &[u8] = br#"{"access_token":"at-0123456789","refresh_token":"rt-abcdef"}"#;

/// A key of 32 bytes 0xfb 0xff … (base64 with `+` and `/`, URL-safe with `-` and `_`).
const STANDARD_KEY: &str = "+//7//v/+//7//v/+//7//v/+//7//v/+//7//v/+/8=";
const URL_SAFE_KEY: &str = "-__7__v_-__7__v_-__7__v_-__7__v_-__7__v_-_8=";

fn key() -> SecretKey {
    SecretKey::parse(STANDARD_KEY).unwrap()
}

fn other_key() -> SecretKey {
    SecretKey::parse(&"00".repeat(32)).unwrap()
}

#[test]
fn keys_parse_from_base64_of_either_alphabet_and_from_hex() {
    let hex_key = "fbff".repeat(16);
    for text in [
        STANDARD_KEY,
        URL_SAFE_KEY,
        STANDARD_KEY.trim_end_matches('='),
        &format!("  {STANDARD_KEY}\n"),
        &hex_key,
        &hex_key.to_uppercase(),
    ] {
        let key = SecretKey::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        // The first 8 hex digits of SHA-256 of the 32 bytes (Python's hashlib agrees).
        assert_eq!(key.id(), "d25dec8a", "{text:?}");
    }
    assert_eq!(other_key().id(), "66687aad", "SHA-256 of 32 zero bytes");
}

#[test]
fn anything_but_32_bytes_is_refused_with_how_to_make_a_key() {
    for text in [
        "correct horse battery staple",
        "c2hvcnQ=",                     // base64 of 5 bytes
        &"ab".repeat(31),               // 31 bytes in hex (read as base64: not 32 either)
        &"zz".repeat(32),               // 64 characters, not hex, not base64 of 32 bytes
        &format!("{STANDARD_KEY}AAAA"), // 35 bytes
        "",
    ] {
        let error = SecretKey::parse(text).expect_err(text).to_string();
        assert!(error.contains("openssl rand -base64 32"), "{error}");
        assert!(error.contains("MCPCORD_SECRET_KEY"), "{error}");
        if !text.is_empty() {
            assert!(!error.contains(text), "the value is never quoted: {error}");
        }
    }
    assert!(
        SecretKeyError::Missing
            .to_string()
            .contains("openssl rand -base64 32")
    );
}

#[test]
fn the_key_comes_from_the_variable_or_from_a_file_never_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, format!("{URL_SAFE_KEY}\n")).unwrap();
    let from_file = SecretKey::from_sources(None, Some(&path)).unwrap().unwrap();
    assert_eq!(from_file.id(), "d25dec8a");
    let from_value = SecretKey::from_sources(Some(STANDARD_KEY), None)
        .unwrap()
        .unwrap();
    assert_eq!(from_value.id(), "d25dec8a");
    // Empty counts as unset.
    let empty = std::path::Path::new("");
    assert!(
        SecretKey::from_sources(Some(" "), Some(empty))
            .unwrap()
            .is_none()
    );
    assert!(SecretKey::from_sources(None, None).unwrap().is_none());
    assert!(
        SecretKey::from_sources(Some(""), Some(&path))
            .unwrap()
            .is_some()
    );

    let both = SecretKey::from_sources(Some(STANDARD_KEY), Some(&path)).unwrap_err();
    assert!(matches!(both, SecretKeyError::Both), "{both}");
    let missing = dir.path().join("missing");
    let error = SecretKey::from_sources(None, Some(&missing)).unwrap_err();
    assert!(matches!(error, SecretKeyError::File { .. }), "{error}");
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );
    std::fs::write(&path, "hunter2\n").unwrap();
    let error = SecretKey::from_sources(None, Some(&path))
        .unwrap_err()
        .to_string();
    assert!(error.contains("openssl rand -base64 32"), "{error}");
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn debug_shows_the_key_id_only() {
    let shown = format!("{:?}", key());
    assert_eq!(shown, r#"SecretKey { id: "d25dec8a" }"#);
}

#[test]
fn a_sealed_login_opens_again_and_hides_its_content() {
    let key = key();
    let sealed = key.seal(SERVER, RESOURCE, LOGIN).unwrap();
    assert_eq!(sealed[0], VERSION);
    assert_eq!(sealed.len(), 1 + NONCE_LEN + LOGIN.len() + 16);
    for secret in [&b"at-0123456789"[..], b"rt-abcdef", b"access_token"] {
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret),
            "nothing of the login shows in the sealed bytes"
        );
    }
    let opened = key.unseal(SERVER, RESOURCE, key.id(), &sealed).unwrap();
    assert_eq!(opened.as_slice(), LOGIN);

    // A fresh nonce every time: the same login seals differently, and both open.
    let again = key.seal(SERVER, RESOURCE, LOGIN).unwrap();
    assert_ne!(again, sealed);
    assert_ne!(again[1..1 + NONCE_LEN], sealed[1..1 + NONCE_LEN]);
    let opened = key.unseal(SERVER, RESOURCE, key.id(), &again).unwrap();
    assert_eq!(opened.as_slice(), LOGIN);
    // An empty login too.
    let empty = key.seal(SERVER, RESOURCE, b"").unwrap();
    assert!(
        key.unseal(SERVER, RESOURCE, key.id(), &empty)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_changed_key_names_the_login_command() {
    let sealed = key().seal(SERVER, RESOURCE, LOGIN).unwrap();
    let other = other_key();
    let error = other
        .unseal(SERVER, RESOURCE, key().id(), &sealed)
        .unwrap_err();
    assert_eq!(
        error,
        UnsealError::OtherKey {
            server: SERVER.into(),
            stored: "d25dec8a".into(),
            current: "66687aad".into(),
        }
    );
    assert!(
        error.to_string().contains("run `mcpcord mcp login search`"),
        "{error}"
    );
    assert!(
        error.to_string().contains("another MCPCORD_SECRET_KEY"),
        "{error}"
    );
    // A row claiming the current key's id but sealed with another one does not open either.
    let error = other
        .unseal(SERVER, RESOURCE, other.id(), &sealed)
        .unwrap_err();
    assert_eq!(error, damaged(SERVER));
}

fn damaged(server: &str) -> UnsealError {
    UnsealError::Damaged {
        server: server.into(),
    }
}

#[test]
fn a_login_moved_to_another_server_or_url_does_not_open() {
    let key = key();
    let sealed = key.seal(SERVER, RESOURCE, LOGIN).unwrap();
    let error = key
        .unseal("files", RESOURCE, key.id(), &sealed)
        .unwrap_err();
    assert_eq!(error, damaged("files"));
    assert!(
        error.to_string().contains("run `mcpcord mcp login files`"),
        "{error}"
    );
    let moved = key.unseal(SERVER, "https://evil.example/mcp", key.id(), &sealed);
    assert_eq!(moved.unwrap_err(), damaged(SERVER));
    // A NUL in a name cannot make one pair look like another: "a" + "b\0c" against "a\0b" + "c".
    let sealed = key.seal("a", "b\0c", LOGIN).unwrap();
    assert!(key.unseal("a\0b", "c", key.id(), &sealed).is_err());
}

#[test]
fn a_tampered_blob_does_not_open() {
    let key = key();
    let sealed = key.seal(SERVER, RESOURCE, LOGIN).unwrap();
    // Every single flipped bit, wherever it is (version, nonce, ciphertext, tag).
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut tampered = sealed.clone();
            tampered[byte] ^= 1 << bit;
            let opened = key.unseal(SERVER, RESOURCE, key.id(), &tampered);
            assert_eq!(
                opened.unwrap_err(),
                damaged(SERVER),
                "byte {byte} bit {bit}"
            );
        }
    }
    // Cut short anywhere, or grown.
    for len in 0..sealed.len() {
        let opened = key.unseal(SERVER, RESOURCE, key.id(), &sealed[..len]);
        assert_eq!(opened.unwrap_err(), damaged(SERVER), "{len} bytes");
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert!(key.unseal(SERVER, RESOURCE, key.id(), &longer).is_err());
}
