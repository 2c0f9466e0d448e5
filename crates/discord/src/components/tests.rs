//! Unit tests of `components`.

use super::*;

fn all_ids() -> Vec<CustomId> {
    let big = u64::MAX;
    vec![
        CustomId::Stop { turn: big },
        CustomId::Regenerate { turn: 1 },
        CustomId::Continue { turn: 2 },
        CustomId::Reasoning { turn: 3 },
        CustomId::Approval {
            turn: big,
            call: u32::MAX,
            decision: Decision::Approve,
        },
        CustomId::Approval {
            turn: 4,
            call: 0,
            decision: Decision::Always,
        },
        CustomId::Approval {
            turn: 4,
            call: 1,
            decision: Decision::Deny,
        },
        CustomId::ModelMenu { scope: Scope::User },
        CustomId::ModelMenu {
            scope: Scope::Channel,
        },
        CustomId::ModelMenu {
            scope: Scope::Server,
        },
        CustomId::Elicit {
            turn: big,
            call: u32::MAX,
        },
        CustomId::ElicitForm { turn: 5, call: 1 },
        CustomId::PromptForm { request: 6 },
        CustomId::Resume { conversation: big },
        CustomId::PickUp { conversation: big },
        CustomId::BringIn { conversation: big },
    ]
}

proptest::proptest! {
    /// Whatever Discord (or a forged client) sends back, parsing never panics, and what it
    /// parses to writes back the same string.
    #[test]
    fn any_custom_id_parses_without_panic(raw in "\\PC{0,120}") {
        let id = CustomId::parse(&raw);
        proptest::prop_assert_eq!(id.encode(), raw);
    }

    /// Every id this version writes, with any numbers, parses back to itself.
    #[test]
    fn written_ids_round_trip(turn in proptest::num::u64::ANY, call in proptest::num::u32::ANY, which in 0usize..11) {
        let id = match which {
            0 => CustomId::Stop { turn },
            1 => CustomId::Regenerate { turn },
            2 => CustomId::Continue { turn },
            3 => CustomId::Reasoning { turn },
            4 => CustomId::Approval { turn, call, decision: Decision::Always },
            5 => CustomId::Elicit { turn, call },
            6 => CustomId::ElicitForm { turn, call },
            7 => CustomId::Resume { conversation: turn },
            8 => CustomId::PickUp { conversation: turn },
            9 => CustomId::BringIn { conversation: turn },
            _ => CustomId::PromptForm { request: turn },
        };
        let raw = id.encode();
        proptest::prop_assert!(raw.chars().count() <= CUSTOM_ID_LIMIT);
        proptest::prop_assert_eq!(id.turn(), CustomId::parse(&raw).turn());
        proptest::prop_assert_eq!(CustomId::parse(&raw), id);
    }
}

#[test]
fn custom_ids_round_trip_within_the_limit() {
    for id in all_ids() {
        let raw = id.encode();
        assert!(raw.chars().count() <= CUSTOM_ID_LIMIT, "{raw}");
        assert_eq!(CustomId::parse(&raw), id, "{raw}");
        assert_eq!(raw.parse::<CustomId>().unwrap(), id);
    }
}

#[test]
fn unknown_custom_ids_are_a_variant_not_an_error() {
    for raw in [
        "",
        "stop",
        "stop:",
        "stop:x",
        "stop:1:2",
        "stop:01",
        "stop:-1",
        "tool:1:2:q",
        "model:x",
        "other-bot:1",
        "tool:1:99999999999:y",
    ] {
        assert_eq!(
            CustomId::parse(raw),
            CustomId::Unknown(raw.to_owned()),
            "{raw}"
        );
    }
    assert_eq!(CustomId::Unknown("x:y".into()).encode(), "x:y");
}

#[test]
fn controls_follow_the_answer_through_its_life() {
    let generating = Controls {
        stop: true,
        ..Controls::default()
    };
    let rows = generating.rows(9).unwrap();
    assert_eq!(rows.len(), 1);
    twilight_validate::message::components(&rows, false).unwrap();
    let Component::ActionRow(row) = &rows[0] else {
        panic!()
    };
    let Component::Button(stop) = &row.components[0] else {
        panic!()
    };
    assert_eq!(stop.custom_id.as_deref(), Some("stop:9"));
    assert_eq!(stop.style, ButtonStyle::Danger);

    let finished = Controls {
        regenerate: true,
        continue_: true,
        reasoning: true,
        ..Controls::default()
    };
    let rows = finished.rows(9).unwrap();
    twilight_validate::message::components(&rows, false).unwrap();
    let Component::ActionRow(row) = &rows[0] else {
        panic!()
    };
    let ids: Vec<_> = row
        .components
        .iter()
        .map(|c| match c {
            Component::Button(b) => b.custom_id.clone().unwrap(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(ids, ["regen:9", "cont:9", "think:9"]);
    assert!(Controls::default().is_empty());
    assert!(Controls::default().rows(1).unwrap().is_empty());
}

#[test]
fn approvals_get_a_row_each_and_the_row_limit_holds() {
    let mut controls = Controls {
        stop: true,
        ..Controls::default()
    };
    controls.approvals = (0..4).map(|call| ApprovalPrompt { call }).collect();
    let rows = controls.rows(1).unwrap();
    assert_eq!(rows.len(), MAX_ROWS);
    twilight_validate::message::components(&rows, false).unwrap();
    let Component::ActionRow(first) = &rows[0] else {
        panic!()
    };
    assert_eq!(first.components.len(), 3);
    controls.approvals.push(ApprovalPrompt { call: 4 });
    assert_eq!(
        controls.rows(1),
        Err(ComponentError::TooManyRows { rows: 6 })
    );
}

#[test]
fn buttons_pack_five_to_a_row() {
    let buttons: Vec<Button> = (0..12)
        .map(|i| button(CustomId::Stop { turn: i }, "x", ButtonStyle::Primary, "⏹️"))
        .collect();
    let rows = button_rows(buttons);
    assert_eq!(rows.len(), 3);
    twilight_validate::message::components(&rows, false).unwrap();
}

#[test]
fn elicitations_are_form_or_link_buttons() {
    let controls = Controls {
            elicitations: vec![
                ElicitationPrompt::Form { call: 3, label: "Fill in the details the server asked for, which is a long label indeed, longer than eighty".into() },
                ElicitationPrompt::Url { url: "https://example.com/auth".into(), label: "Sign in".into() },
            ],
            ..Controls::default()
        };
    let rows = controls.rows(1).unwrap();
    twilight_validate::message::components(&rows, false).unwrap();
    let Component::ActionRow(row) = &rows[0] else {
        panic!()
    };
    let Component::Button(form) = &row.components[0] else {
        panic!()
    };
    assert_eq!(form.custom_id.as_deref(), Some("elicit:1:3"));
    assert_eq!(
        form.label.as_ref().unwrap().chars().count(),
        MAX_BUTTON_LABEL
    );
    let Component::Button(link) = &row.components[1] else {
        panic!()
    };
    assert_eq!(link.style, ButtonStyle::Link);
    assert_eq!(link.custom_id, None);
}

#[test]
fn the_model_menu_holds_at_most_25_and_keeps_the_current_one() {
    let choices: Vec<ModelChoice> = (0..40)
        .map(|i| ModelChoice {
            name: format!("model-{i}:latest"),
            description: Some("7B · tools".into()),
        })
        .chain([ModelChoice {
            name: "x".repeat(101),
            description: None,
        }])
        .collect();
    let (row, left_out) = model_menu(&choices, Some("model-33:latest"), Scope::User);
    assert_eq!(left_out, 41 - MAX_SELECT_OPTIONS);
    twilight_validate::message::components(std::slice::from_ref(&row), false).unwrap();
    let Component::ActionRow(row) = row else {
        panic!()
    };
    let Component::SelectMenu(menu) = &row.components[0] else {
        panic!()
    };
    assert_eq!(menu.custom_id, "model:u");
    let options = menu.options.as_ref().unwrap();
    assert_eq!(options.len(), MAX_SELECT_OPTIONS);
    let defaults: Vec<_> = options
        .iter()
        .filter(|o| o.default)
        .map(|o| o.value.as_str())
        .collect();
    assert_eq!(defaults, ["model-33:latest"]);
}

#[test]
fn modals_wrap_fields_in_labels() {
    let fields: Vec<FormField> = (0..3)
        .map(|i| FormField {
            key: format!("arg{i}"),
            label: format!("Argument {i} with a label that is far too long for Discord"),
            description: Some("what it is".into()),
            required: i == 0,
            long: i == 2,
            value: None,
        })
        .collect();
    let response = modal(CustomId::PromptForm { request: 7 }, "Run prompt", &fields).unwrap();
    assert_eq!(response.kind, InteractionResponseType::Modal);
    let data = response.data.unwrap();
    assert_eq!(data.custom_id.as_deref(), Some("prompt:7"));
    let components = data.components.unwrap();
    for component in &components {
        twilight_validate::component::component_v2(component).unwrap();
    }
    let too_many = vec![fields[0].clone(); 6];
    assert!(modal(CustomId::PromptForm { request: 7 }, "x", &too_many).is_err());
}

#[test]
fn shorten_counts_characters() {
    assert_eq!(shorten("héllo", 5), "héllo");
    assert_eq!(shorten("héllo wörld", 5), "héll…");
}
