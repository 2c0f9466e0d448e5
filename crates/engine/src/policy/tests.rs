use super::*;

fn rule(name: &str, action: PolicyAction, words: &[&str], regexes: &[&str]) -> PolicyRule {
    PolicyRule {
        name: name.into(),
        action,
        words: words.iter().map(|w| (*w).into()).collect(),
        regexes: regexes.iter().map(|r| (*r).into()).collect(),
    }
}

fn input(rules: Vec<PolicyRule>) -> RuleSet {
    let rules = PolicyRules {
        input: rules,
        output: Vec::new(),
        moderation: None,
    };
    ContentPolicy::compile(&rules, &BTreeMap::new())
        .expect("compiles")
        .place(None)
        .input
        .clone()
}

#[test]
fn words_match_whole_and_in_any_case() {
    let set = input(vec![rule("rude", PolicyAction::Block, &["darn"], &[])]);
    assert_eq!(set.screen("Well DARN it").blocked().unwrap().rule, "rude");
    assert!(set.screen("darned socks").hits.is_empty());
    assert!(set.screen("undarn").hits.is_empty());
}

#[test]
fn a_word_edged_with_punctuation_still_matches() {
    let set = input(vec![rule("tags", PolicyAction::Warn, &["#secret"], &[])]);
    assert_eq!(set.screen("a #secret tag").hits.len(), 1);
}

#[test]
fn redact_replaces_every_match_and_says_which_rule() {
    let set = input(vec![rule(
        "keys",
        PolicyAction::Redact,
        &["hunter2"],
        &[r"sk-[a-z0-9]{6,}"],
    )]);
    let screened = set.screen("pw hunter2 and sk-abc123def, again Hunter2");
    assert_eq!(
        screened.text,
        "pw [redacted] and [redacted], again [redacted]"
    );
    assert_eq!(
        screened.hits,
        vec![Hit {
            rule: "keys".into(),
            action: PolicyAction::Redact
        }]
    );
    assert!(screened.blocked().is_none());
}

#[test]
fn warn_leaves_the_text_alone() {
    let set = input(vec![rule("medical", PolicyAction::Warn, &["dosage"], &[])]);
    let screened = set.screen("what dosage?");
    assert_eq!(screened.text, "what dosage?");
    assert_eq!(screened.hits[0].action, PolicyAction::Warn);
}

#[test]
fn an_invalid_regex_names_its_rule() {
    let rules = PolicyRules {
        input: Vec::new(),
        output: vec![
            rule("fine", PolicyAction::Warn, &["x"], &[]),
            rule("broken", PolicyAction::Block, &[], &["(unclosed"]),
        ],
        moderation: None,
    };
    let errors = ContentPolicy::compile(&rules, &BTreeMap::new()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].rule, "broken");
    assert_eq!(errors[0].index, 1);
    assert_eq!(errors[0].direction, Direction::Output);
    assert!(
        errors[0].problem.contains("does not compile"),
        "{}",
        errors[0]
    );
}

#[test]
fn patterns_matching_empty_text_and_empty_rules_are_refused() {
    let rules = PolicyRules {
        input: vec![
            rule("star", PolicyAction::Redact, &[], &["a*"]),
            rule("nothing", PolicyAction::Warn, &[], &[]),
            rule("blank", PolicyAction::Warn, &["  "], &[]),
        ],
        output: Vec::new(),
        moderation: None,
    };
    let errors = ContentPolicy::compile(&rules, &BTreeMap::new()).unwrap_err();
    let named: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(named, ["star", "nothing", "blank"]);
}

#[test]
fn a_guild_with_rules_of_its_own_uses_them_instead_of_the_default() {
    let default = PolicyRules {
        input: vec![rule("default", PolicyAction::Block, &["alpha"], &[])],
        output: Vec::new(),
        moderation: None,
    };
    let guild = GuildId::new(7);
    let own = PolicyRules {
        input: vec![rule("own", PolicyAction::Warn, &["beta"], &[])],
        output: Vec::new(),
        moderation: None,
    };
    let policy = ContentPolicy::compile(&default, &BTreeMap::from([(guild, own)])).unwrap();
    assert!(policy.place(None).input.screen("alpha").blocked().is_some());
    assert!(
        policy
            .place(Some(GuildId::new(8)))
            .input
            .screen("alpha")
            .blocked()
            .is_some()
    );
    assert!(
        policy
            .place(Some(guild))
            .input
            .screen("alpha")
            .hits
            .is_empty()
    );
    assert_eq!(
        policy.place(Some(guild)).input.screen("beta").hits[0].rule,
        "own"
    );
}

#[test]
fn no_rules_match_nothing() {
    let policy = ContentPolicy::default();
    let screened = policy
        .place(None)
        .rules(Direction::Output)
        .screen("anything");
    assert!(screened.hits.is_empty());
    assert_eq!(screened.text, "anything");
}

#[test]
fn llama_guard_verdicts_are_read() {
    use super::{Verdict, parse_verdict};
    assert_eq!(parse_verdict("safe"), Some(Verdict::Safe));
    assert_eq!(parse_verdict("\n\nSafe\n"), Some(Verdict::Safe));
    assert_eq!(
        parse_verdict("unsafe\nS1,S10"),
        Some(Verdict::Unsafe(vec!["S1".into(), "S10".into()]))
    );
    assert_eq!(
        parse_verdict(" unsafe \n S2 , S3 \n"),
        Some(Verdict::Unsafe(vec!["S2".into(), "S3".into()]))
    );
    assert_eq!(parse_verdict("unsafe"), Some(Verdict::Unsafe(Vec::new())));
    assert_eq!(parse_verdict(""), None);
    assert_eq!(parse_verdict("I think this is fine."), None);
}
