//! `mcpcord chat`: the engine in a terminal. Text streams to stdout; tool progress, notices and
//! questions go to stderr, so `mcpcord chat -p "…" > answer.txt` keeps only the answer.

use std::io::{IsTerminal, Write};

use anyhow::anyhow;
use mcpcord_engine::{
    Approval, ApprovalRequest, Engine, Place, Speaker, TurnAction, TurnEvent, TurnRequest,
    TurnSummary, UserMessage,
};
use mcpcord_mcp::InputAnswer;
use mcpcord_memory::{ConversationKey, Scope};
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};

use super::Failure;
use crate::app::{App, TURN_GRACE};
use crate::cli::ChatArgs;
use crate::config::Config;

/// The conversation the interactive chat continues.
const INTERACTIVE_KEY: &str = "cli:chat";

/// Runs `chat`: one reply with `-p`, else an interactive session.
pub async fn run(config: &Config, args: ChatArgs) -> Result<(), Failure> {
    let app = App::start(config).await?;
    let result = match args.prompt {
        Some(prompt) => one_shot(&app.engine, prompt, args.model).await,
        None => interactive(&app.engine, args.model).await,
    };
    app.stop(TURN_GRACE).await;
    result
}

fn speaker() -> Speaker {
    let name = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "you".into());
    Speaker { id: None, name }
}

fn request(key: &str, action: TurnAction, model: Option<String>) -> TurnRequest {
    let author = speaker();
    TurnRequest {
        key: ConversationKey::new(key),
        scope: Scope::default(),
        place: Place {
            user: author.name.clone(),
            server: None,
            channel: Some("terminal".into()),
        },
        author,
        action,
        model,
        grants: mcpcord_engine::Grants::everything(),
    }
}

/// `-p`: one reply in a fresh conversation; exit 1 with the error on stderr.
async fn one_shot(engine: &Engine, prompt: String, model: Option<String>) -> Result<(), Failure> {
    let key = format!("cli:prompt:{}", uuid_like());
    let turn = engine.start_turn(request(
        &key,
        TurnAction::Message(UserMessage::text(prompt)),
        model,
    ));
    let summary = drive(turn, None).await?;
    if !summary.text.ends_with('\n') {
        println!();
    }
    Ok(())
}

/// The interactive loop: a line is a message; `/model`, `/new`, `/regenerate`, `/continue`,
/// `/quit`; Ctrl-C stops a running answer, or leaves at the prompt.
async fn interactive(engine: &Engine, mut model: Option<String>) -> Result<(), Failure> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    eprintln!(
        "mcpcord chat — /model NAME, /new, /regenerate, /continue, /quit; Ctrl-C stops an answer"
    );
    loop {
        let Some(line) = prompt(&mut lines).await? else {
            return Ok(());
        };
        match Typed::parse(&line) {
            Typed::Nothing => {}
            Typed::Quit => return Ok(()),
            Typed::NewConversation => new_conversation(engine).await?,
            Typed::Model(chosen) => {
                model = chosen;
                let shown = model.as_deref().unwrap_or("the configured default");
                eprintln!("(model: {shown})");
            }
            Typed::Turn(action) => {
                let turn = engine.start_turn(request(INTERACTIVE_KEY, action, model.clone()));
                finish_line(drive(turn, Some(&mut lines)).await);
            }
        }
    }
}

/// `/new`: the interactive conversation starts afresh.
async fn new_conversation(engine: &Engine) -> Result<(), Failure> {
    let key = ConversationKey::new(INTERACTIVE_KEY);
    engine
        .start_over(&key, Scope::default(), None)
        .await
        .map_err(|e| anyhow!(e))?;
    eprintln!("(a new conversation)");
    Ok(())
}

/// Ends an answer's last line, or prints why there is none; the session goes on.
fn finish_line(outcome: Result<TurnSummary, Failure>) {
    match outcome {
        Ok(summary) if !summary.text.ends_with('\n') => println!(),
        Ok(_) => {}
        Err(error) => eprintln!("error: {error}"),
    }
}

/// Shows the prompt and reads a line; `None` at the end of input or on Ctrl-C.
async fn prompt(lines: &mut Input) -> Result<Option<String>, Failure> {
    eprint!("> ");
    let _ = std::io::stderr().flush();
    tokio::select! {
        line = lines.next_line() => Ok(line.map_err(|e| anyhow!(e))?),
        _ = tokio::signal::ctrl_c() => Ok(None),
    }
}

/// What a line typed in the interactive chat asks for.
#[derive(Debug, PartialEq)]
enum Typed {
    /// An empty line.
    Nothing,
    /// `/quit` or `/exit`.
    Quit,
    /// `/new`.
    NewConversation,
    /// `/model NAME`, or `/model` alone for the configured default.
    Model(Option<String>),
    /// A message, `/regenerate` or `/continue`.
    Turn(TurnAction),
}

impl Typed {
    fn parse(line: &str) -> Typed {
        match line.trim() {
            "" => Typed::Nothing,
            "/quit" | "/exit" => Typed::Quit,
            "/new" => Typed::NewConversation,
            "/regenerate" => Typed::Turn(TurnAction::REGENERATE_LATEST),
            "/continue" => Typed::Turn(TurnAction::CONTINUE_LATEST),
            command if command.starts_with("/model") => Typed::Model(
                command
                    .strip_prefix("/model")
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(String::from),
            ),
            text => Typed::Turn(TurnAction::Message(UserMessage::text(text))),
        }
    }
}

/// The terminal's input, when there is a person there to answer questions.
type Input = Lines<BufReader<Stdin>>;

/// Prints a turn as it runs; answers approvals and input requests from `lines` when there is
/// a person at the terminal, declines them otherwise.
async fn drive(
    mut turn: mcpcord_engine::Turn,
    mut lines: Option<&mut Input>,
) -> Result<TurnSummary, Failure> {
    let ask = std::io::stdin().is_terminal() && lines.is_some();
    loop {
        let event = tokio::select! {
            event = turn.next() => event,
            _ = tokio::signal::ctrl_c() => {
                turn.stop();
                continue;
            }
        };
        let Some(event) = event else {
            return Err(Failure::Runtime(anyhow!(
                "the turn ended without an answer"
            )));
        };
        match event {
            TurnEvent::ApprovalNeeded(request) => {
                let answer = approval(&request, lines.as_deref_mut().filter(|_| ask)).await;
                let _ = request.reply.send(answer);
            }
            TurnEvent::InputRequested(prompt) => {
                eprintln!(
                    "({} asks: {}; declined in the terminal)",
                    prompt.request.server, prompt.request.message
                );
                let _ = prompt.reply.send(InputAnswer::Decline);
            }
            TurnEvent::Done(summary) => {
                if summary.interrupted {
                    eprintln!("\n(stopped)");
                }
                return Ok(summary);
            }
            TurnEvent::Failed(error) => return Err(Failure::Runtime(anyhow!(error))),
            shown => show(shown),
        }
    }
}

/// Prints an event that needs no answer: text on stdout, tool progress and notices on stderr.
fn show(event: TurnEvent) {
    match event {
        TurnEvent::Text(text) => {
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        }
        TurnEvent::Rewritten(text) => {
            // What was printed cannot be taken back: say so, and print what it now reads.
            eprintln!("\n(the content policy changed the answer above; it now reads:)");
            println!("{text}");
        }
        TurnEvent::ToolStarted { server, tool, .. } => eprintln!("\n🔧 {server} › {tool} …"),
        TurnEvent::ToolProgress {
            progress,
            total,
            message,
            ..
        } => {
            let of = total.map(|t| format!("/{t}")).unwrap_or_default();
            eprintln!("   … {progress}{of} {}", message.unwrap_or_default());
        }
        TurnEvent::ToolFinished {
            ok,
            elapsed,
            summary,
            ..
        } => {
            let mark = if ok { "✓" } else { "✗" };
            eprintln!("   {mark} {:.1} s {summary}", elapsed.as_secs_f64());
        }
        TurnEvent::Notice(notice) => eprintln!("({notice})"),
        _ => {}
    }
}

/// Asks the person at the terminal (`lines`) whether the tool may run; denied when nobody can
/// answer.
async fn approval(request: &ApprovalRequest, lines: Option<&mut Input>) -> Approval {
    let Some(lines) = lines else {
        eprintln!(
            "({} › {} needs approval; nobody can answer here: denied)",
            request.server, request.tool
        );
        return Approval::Deny;
    };
    eprint!(
        "Allow {} › {} {}? [y]es / [a]lways / [N]o: ",
        request.server, request.tool, request.arguments
    );
    let _ = std::io::stderr().flush();
    let answer = lines.next_line().await.ok().flatten();
    match answer.as_deref().map(str::trim) {
        Some("y" | "yes") => Approval::Approve,
        Some("a" | "always") => Approval::AlwaysInConversation,
        _ => Approval::Deny,
    }
}

/// A short random suffix for one-off conversation keys.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_typed_line_means_one_thing() {
        assert_eq!(Typed::parse("   "), Typed::Nothing);
        assert_eq!(Typed::parse("/quit"), Typed::Quit);
        assert_eq!(Typed::parse(" /exit "), Typed::Quit);
        assert_eq!(Typed::parse("/new"), Typed::NewConversation);
        assert_eq!(
            Typed::parse("/model  qwen3 "),
            Typed::Model(Some("qwen3".into()))
        );
        assert_eq!(Typed::parse("/model"), Typed::Model(None));
        assert_eq!(
            Typed::parse("/regenerate"),
            Typed::Turn(TurnAction::REGENERATE_LATEST)
        );
        assert_eq!(
            Typed::parse("/continue"),
            Typed::Turn(TurnAction::CONTINUE_LATEST)
        );
        assert_eq!(
            Typed::parse("  hello there "),
            Typed::Turn(TurnAction::Message(UserMessage::text("hello there")))
        );
    }
}
