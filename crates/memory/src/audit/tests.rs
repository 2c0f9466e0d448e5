use super::*;

#[test]
fn kinds_round_trip_through_their_names() {
    for kind in AuditKind::ALL {
        assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(AuditKind::parse("nonsense"), None);
}

#[test]
fn a_tool_call_keeps_a_digest_of_its_arguments_never_the_arguments() {
    let arguments = json!({"url": "https://example.com/secret-token"});
    let entry = AuditEntry::tool_call(Some(UserId::new(7)), None, "web", "fetch", &arguments);
    assert_eq!(entry.action, "web/fetch");
    let digest = entry.detail["arguments_sha256"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(digest, arguments_digest(&arguments));
    assert_ne!(
        digest,
        arguments_digest(&json!({"url": "https://example.com"}))
    );
    let text = Value::Object(entry.detail.clone()).to_string();
    assert!(!text.contains("secret-token"), "{text}");
}

#[test]
fn the_digest_is_sha256_of_the_compact_json() {
    // sha256("{}")
    assert_eq!(
        arguments_digest(&json!({})),
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
}

#[test]
fn details_that_are_not_objects_are_kept_under_value() {
    let entry = AuditEntry::admin(None, None, "system_prompt.set", json!("Be brief"));
    assert_eq!(entry.detail["value"], "Be brief");
    let entry = AuditEntry::reload(None, "applied", Value::Null);
    assert!(entry.detail.is_empty());
}

#[test]
fn a_record_as_json_has_ids_as_strings_and_an_rfc3339_time() {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
    let record = AuditRecord {
        id: 3,
        entry: AuditEntry::refusal(Some(UserId::new(175_928_847_299_117_063)), None, "blocked")
            .at(at),
    };
    let json = record.to_json();
    assert_eq!(json["actor_id"], "175928847299117063");
    assert_eq!(json["guild_id"], Value::Null);
    assert_eq!(json["kind"], "refusal");
    assert_eq!(json["action"], "blocked");
    assert_eq!(json["at"], "2023-11-14T22:13:20.123Z");
}
