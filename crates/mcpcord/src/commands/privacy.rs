//! `mcpcord privacy …`: a person's data rights, for the operator: `export --user ID` prints
//! everything stored about them as JSON; `forget --user ID [--yes]` forgets them (asking first
//! on a terminal). Both go through the engine, as the Discord `/privacy` command does, so the
//! same rules and the same record of the request apply.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use mcpcord_engine::{Engine, ForgetReport, UserId};

use super::Failure;
use super::memory::open;
use crate::cli::{PrivacyCommand, PrivacyExportArgs, PrivacyForgetArgs};
use crate::config::Config;

/// Runs one `privacy` subcommand.
pub async fn run(config: &Config, command: PrivacyCommand) -> Result<(), Failure> {
    if let PrivacyCommand::Forget(args) = &command
        && !args.yes
    {
        let stdin = std::io::stdin();
        let terminal = stdin.is_terminal();
        if !confirm(
            args.user,
            terminal,
            &mut stdin.lock(),
            &mut std::io::stderr(),
        )? {
            return Err(Failure::Usage(
                "nothing forgotten: not confirmed (pass --yes to forget without asking)".into(),
            ));
        }
    }
    let engine = open(config).await?;
    let result = match command {
        PrivacyCommand::Export(args) => export(&engine, &args).await,
        PrivacyCommand::Forget(args) => forget(&engine, &args).await,
    };
    engine.store().close().await;
    result
}

async fn export(engine: &Engine, args: &PrivacyExportArgs) -> Result<(), Failure> {
    let data = engine
        .privacy_export(UserId::new(args.user))
        .await
        .context("cannot read the person's data")?;
    let json = serde_json::to_string_pretty(&data).context("cannot write the data as JSON")?;
    println!("{json}");
    Ok(())
}

async fn forget(engine: &Engine, args: &PrivacyForgetArgs) -> Result<(), Failure> {
    let report = engine
        .privacy_forget(UserId::new(args.user))
        .await
        .context("cannot forget the person (nothing was changed)")?;
    print!("{}", summary(args.user, &report));
    Ok(())
}

/// Asks on `output` whether to forget `user`, reading the answer from `input`, when `terminal`;
/// without a terminal there is nobody to ask: a usage error says to pass `--yes`.
pub(crate) fn confirm(
    user: u64,
    terminal: bool,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> Result<bool, Failure> {
    if !terminal {
        return Err(Failure::Usage(format!(
            "refusing to forget user {user} without confirmation: stdin is not a terminal; \
             pass --yes to forget them"
        )));
    }
    write!(
        output,
        "Forget Discord user {user}? Their messages, the conversations only they took part in, \
         their preferences and their name are deleted for good. Type yes to confirm: "
    )
    .and_then(|()| output.flush())
    .context("cannot ask for confirmation")?;
    let mut answer = String::new();
    input
        .read_line(&mut answer)
        .context("cannot read the confirmation")?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// What was forgotten, one line each.
pub(crate) fn summary(user: u64, report: &ForgetReport) -> String {
    if report.is_empty() {
        return format!("nothing was stored about user {user}\n");
    }
    format!(
        "forgot user {user}:\n\
         conversations deleted: {}\n\
         messages deleted: {}\n\
         messages in shared conversations replaced by a note: {}\n\
         stored vectors deleted: {}\n\
         preferences deleted: {}\n\
         tool switches no longer naming them: {}\n\
         days of token usage deleted: {}\n\
         remembered facts deleted: {}\n\
         profile deleted: {}\n",
        report.conversations_deleted,
        report.messages_deleted,
        report.messages_replaced_by_note,
        report.embeddings_deleted,
        report.preferences_deleted,
        report.tool_switches_cleared,
        report.usage_days_deleted,
        report.facts_deleted,
        if report.profile_deleted { "yes" } else { "no" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_is_asked_on_a_terminal_and_refused_elsewhere() {
        let mut asked = Vec::new();
        let yes = confirm(7, true, &mut "YES\n".as_bytes(), &mut asked).unwrap();
        assert!(yes);
        assert!(
            String::from_utf8(asked)
                .unwrap()
                .contains("Forget Discord user 7?")
        );
        assert!(!confirm(7, true, &mut "no\n".as_bytes(), &mut Vec::new()).unwrap());
        assert!(!confirm(7, true, &mut "".as_bytes(), &mut Vec::new()).unwrap());
        let refused = confirm(7, false, &mut "yes\n".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(matches!(&refused, Failure::Usage(text) if text.contains("--yes")));
    }

    #[test]
    fn the_summary_says_what_went() {
        assert_eq!(
            summary(5, &ForgetReport::default()),
            "nothing was stored about user 5\n"
        );
        let report = ForgetReport {
            conversations_deleted: 2,
            profile_deleted: true,
            ..ForgetReport::default()
        };
        let text = summary(5, &report);
        assert!(text.contains("conversations deleted: 2") && text.contains("profile deleted: yes"));
    }
}
