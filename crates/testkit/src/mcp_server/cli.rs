//! The command line of the `mcpcord-test-mcp` binary: parsing its flags and running the server
//! they describe. Plain `std::env::args` parsing; no clap in the testkit.

use std::{
    io::Write as _,
    net::{Ipv4Addr, SocketAddr},
    process::ExitCode,
};

use super::{
    CrashMode, DiscoverReply, TestMcpServer, log, serve_http, serve_stdio, tools::env_names,
};

/// Exit status of the `crash` tool in the binary.
pub const CRASH_EXIT_CODE: i32 = 3;

/// Usage text printed by `--help` and after a bad flag.
pub const USAGE: &str = "\
usage: mcpcord-test-mcp [--transport stdio|http] [--port N] [--legacy]
                       [--discover answer|refuse|empty|never] [--env-dump]

  --transport stdio   serve MCP on stdin/stdout (default)
  --transport http    serve MCP over Streamable HTTP on 127.0.0.1; prints
                      `listening on http://127.0.0.1:PORT/mcp` as the first line on stdout
  --port N            HTTP port (0, the default, picks a free one)
  --legacy            refuse server/discover, like a server from before 2026-07-28
                      (the same as --discover refuse)
  --discover REPLY    how server/discover is answered: answer (default), refuse
                      (method not found), empty (a `{}` result, as some servers answer
                      any method they do not know) or never
  --env-dump          print this process's environment variable names as a JSON array, exit
  --help              print this text";

/// Which wire the binary serves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// stdin/stdout, newline-delimited JSON-RPC.
    Stdio,
    /// Streamable HTTP on `127.0.0.1:port` (0 = any free port).
    Http {
        /// The port to bind; 0 lets the system choose.
        port: u16,
    },
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve MCP.
    Serve {
        /// The wire to serve on.
        transport: Transport,
        /// How `server/discover` is answered (see [`TestMcpServer::with_discover`]).
        discover: DiscoverReply,
    },
    /// Print the environment variable names and exit.
    EnvDump,
    /// Print [`USAGE`] and exit.
    Help,
}

/// Parses the arguments after the program name.
///
/// # Errors
///
/// A message naming the flag or value that is wrong.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut http = None;
    let mut port = None;
    let mut discover = DiscoverReply::Answer;
    let mut env_dump = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--transport" => {
                http = Some(match value("--transport")?.as_str() {
                    "stdio" => false,
                    "http" => true,
                    other => return Err(format!("unknown transport {other:?} (stdio or http)")),
                });
            }
            "--port" => {
                let raw = value("--port")?;
                port = Some(
                    raw.parse::<u16>()
                        .map_err(|_| format!("--port {raw:?} is not a port number"))?,
                );
            }
            "--legacy" => discover = DiscoverReply::MethodNotFound,
            "--discover" => {
                let raw = value("--discover")?;
                discover = DiscoverReply::from_name(&raw).ok_or_else(|| {
                    format!("--discover {raw:?} is not one of answer, refuse, empty, never")
                })?;
            }
            "--env-dump" => env_dump = true,
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if env_dump {
        return Ok(Command::EnvDump);
    }
    let transport = match (http, port) {
        (Some(true), port) => Transport::Http {
            port: port.unwrap_or(0),
        },
        (_, Some(_)) => return Err("--port needs --transport http".to_owned()),
        _ => Transport::Stdio,
    };
    Ok(Command::Serve {
        transport,
        discover,
    })
}

/// Runs the binary with the arguments after the program name and returns its exit status.
pub fn run(args: impl IntoIterator<Item = String>) -> ExitCode {
    let command = match parse_args(args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("mcpcord-test-mcp: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::EnvDump => {
            let names = serde_json::to_string(&env_names()).expect("names serialize");
            println!("{names}");
            ExitCode::SUCCESS
        }
        Command::Serve {
            transport,
            discover,
        } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    log(format_args!("cannot start the runtime: {error}"));
                    return ExitCode::FAILURE;
                }
            };
            let server = TestMcpServer::new()
                .with_crash_mode(CrashMode::Exit(CRASH_EXIT_CODE))
                .with_discover(discover);
            match runtime.block_on(serve(server, transport)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    log(format_args!("stopped: {error}"));
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(server: TestMcpServer, transport: Transport) -> std::io::Result<()> {
    match transport {
        Transport::Stdio => {
            log("serving MCP on stdio");
            serve_stdio(server).await
        }
        Transport::Http { port } => {
            let handle = serve_http(server, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
            let url = handle.url();
            log(format_args!("serving MCP over Streamable HTTP at {url}"));
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening on {url}")?;
            stdout.flush()?;
            drop(stdout);
            // On Ctrl-C the `wait` future is dropped with the handle, which stops the server.
            tokio::select! {
                result = tokio::signal::ctrl_c() => result,
                result = handle.wait() => result,
            }
        }
    }
}
