//! `mcpcord chat`: the engine in a terminal. Text streams to stdout; tool progress, notices and
//! questions go to stderr, so `mcpcord chat -p "…" > answer.txt` keeps only the answer.

use std::io::{IsTerminal, Write};

use anyhow::anyhow;
use mcpcord_engine::{
    Approval, Engine, Place, Speaker, TurnAction, TurnEvent, TurnRequest, TurnSummary, UserMessage,
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
    let mut key = INTERACTIVE_KEY.to_string();
    eprintln!(
        "mcpcord chat — /model NAME, /new, /regenerate, /continue, /quit; Ctrl-C stops an answer"
    );
    loop {
        eprint!("> ");
        let _ = std::io::stderr().flush();
        let line = tokio::select! {
            line = lines.next_line() => line.map_err(|e| anyhow!(e))?,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(line) = line else { return Ok(()) };
        let action = match line.trim() {
            "" => continue,
            "/quit" | "/exit" => return Ok(()),
            "/new" => {
                engine
                    .store()
                    .new_conversation(&ConversationKey::new(&key), Scope::default(), None)
                    .await
                    .map_err(|e| anyhow!(e))?;
                key = INTERACTIVE_KEY.to_string();
                eprintln!("(a new conversation)");
                continue;
            }
            "/regenerate" => TurnAction::REGENERATE_LATEST,
            "/continue" => TurnAction::CONTINUE_LATEST,
            command if command.starts_with("/model") => {
                model = command
                    .strip_prefix("/model")
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(String::from);
                eprintln!(
                    "(model: {})",
                    model.as_deref().unwrap_or("the configured default")
                );
                continue;
            }
            text => TurnAction::Message(UserMessage::text(text)),
        };
        let turn = engine.start_turn(request(&key, action, model.clone()));
        match drive(turn, Some(&mut lines)).await {
            Ok(summary) if !summary.text.ends_with('\n') => println!(),
            Ok(_) => {}
            Err(error) => eprintln!("error: {error}"),
        }
    }
}

/// Prints a turn as it runs; answers approvals and input requests from `lines` when there is
/// a person at the terminal, declines them otherwise.
async fn drive(
    mut turn: mcpcord_engine::Turn,
    mut lines: Option<&mut Lines<BufReader<Stdin>>>,
) -> Result<TurnSummary, Failure> {
    let ask = std::io::stdin().is_terminal() && lines.is_some();
    let mut stdout = std::io::stdout();
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
            TurnEvent::Started { .. } | TurnEvent::Thinking(_) => {}
            TurnEvent::Text(text) => {
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
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
                eprintln!(
                    "   {} {:.1} s {summary}",
                    if ok { "✓" } else { "✗" },
                    elapsed.as_secs_f64()
                );
            }
            TurnEvent::Notice(notice) => eprintln!("({notice})"),
            TurnEvent::ApprovalNeeded(request) => {
                let answer = match lines.as_deref_mut().filter(|_| ask) {
                    Some(lines) => {
                        eprint!(
                            "Allow {} › {} {}? [y]es / [a]lways / [N]o: ",
                            request.server, request.tool, request.arguments
                        );
                        let _ = std::io::stderr().flush();
                        match lines
                            .next_line()
                            .await
                            .ok()
                            .flatten()
                            .as_deref()
                            .map(str::trim)
                        {
                            Some("y" | "yes") => Approval::Approve,
                            Some("a" | "always") => Approval::AlwaysInConversation,
                            _ => Approval::Deny,
                        }
                    }
                    None => {
                        eprintln!(
                            "({} › {} needs approval; nobody can answer here: denied)",
                            request.server, request.tool
                        );
                        Approval::Deny
                    }
                };
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
        }
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
