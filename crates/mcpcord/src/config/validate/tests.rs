//! Unit tests of `validate`.

use proptest::prelude::*;

use super::*;

#[test]
fn durations_sizes_and_ids_read_the_usual_forms() {
    assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(
        parse_duration("100y"),
        Ok(Duration::from_secs(3_155_760_000))
    );
    assert!(parse_duration("101y").unwrap_err().contains("too long"));
    assert!(
        parse_duration("99999999999999999999999s")
            .unwrap_err()
            .contains("too long")
    );
    assert!(
        parse_duration("soon")
            .unwrap_err()
            .contains("not a duration")
    );
    assert_eq!(byte_size("512MiB"), Some(512 << 20));
    assert_eq!(byte_size("1e9"), None);
    assert_eq!(byte_size("0"), None);
    assert_eq!(byte_size(&"9".repeat(400)), None);
    let id = |raw: RawId| discord_id(&raw).map(NonZeroU64::get);
    assert_eq!(id(RawId::Text("123".into())), Ok(123));
    assert_eq!(id(RawId::Text(" 0123 ".into())), Ok(123));
    assert_eq!(id(RawId::Number(123)), Ok(123));
    assert_eq!(id(RawId::from(u64::MAX)), Ok(u64::MAX));
    for bad in [
        "",
        "0",
        "-1",
        "+1",
        "1.0",
        "<@123>",
        "18446744073709551616",
        "١٢٣",
    ] {
        assert!(id(RawId::Text(bad.into())).is_err(), "{bad:?}");
    }
    assert!(id(RawId::Number(0)).is_err() && id(RawId::Number(-1)).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_is_a_duration_or_an_error(text in any::<String>()) {
        if let Ok(duration) = parse_duration(&text) {
            prop_assert!(duration <= MAX_DURATION);
        }
    }

    #[test]
    fn numeric_looking_text_is_a_duration_or_an_error(
        text in "[0-9]{0,30}(\\.[0-9]{0,30})?(ns|us|ms|s|m|h|d|w|M|y| )*[0-9]{0,30}[a-z]{0,3}"
    ) {
        if let Ok(duration) = parse_duration(&text) {
            prop_assert!(duration <= MAX_DURATION);
        }
    }

    #[test]
    fn any_text_is_a_size_or_none(
        text in prop_oneof![any::<String>(), "[0-9.]{0,400}[ ]?(|b|k|kib|m|mib|g|gib|kb|mb|gb|K|MiB)"]
    ) {
        if let Some(bytes) = byte_size(&text) {
            prop_assert!(bytes >= 1);
        }
    }

    #[test]
    fn any_text_or_number_is_an_id_or_an_error(
        text in prop_oneof![any::<String>(), "[0-9 ]{0,25}"],
        number in any::<i64>(),
    ) {
        if let Ok(id) = discord_id(&RawId::Text(text.clone())) {
            prop_assert_eq!(Ok(id.get()), text.trim().parse::<u64>());
        }
        let parsed = discord_id(&RawId::Number(number));
        prop_assert_eq!(parsed.is_ok(), number > 0);
    }

    #[test]
    fn any_toml_value_for_an_id_duration_or_size_is_reported_never_a_panic(
        value in prop_oneof![
            any::<String>().prop_map(|s| toml::Value::String(s).to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| toml::Value::Float(f).to_string()),
            Just("true".to_owned()),
            Just("[1, \"2\"]".to_owned()),
            Just("{ a = 1 }".to_owned()),
        ]
    ) {
        let text = format!(
            "[discord]\napplication_id = {value}\nshutdown_grace = {value}\n\
             always_answer_channels = [{value}]\n\
             [storage]\nretention_default = {value}\nretention = {{ \"1\" = {value} }}\n\
             [mcp.servers.x]\ncommand = \"x\"\nmemory_limit = {value}\n\
             [permissions]\nadmin_users = [{value}]\n"
        );
        let _ = crate::config::Config::from_toml(&text, &Env::new());
    }
}
