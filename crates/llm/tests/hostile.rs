//! A server that answers with odd numbers (a negative or NaN `Retry-After`, a context length
//! that is a string or out of range, negative sizes and token counts) is read without a panic
//! and without losing the rest of its answer.

use std::time::Duration;

use mcpcord_llm::{Backend, BackendSpec, ChatRequest, LlmError, Message, ServerKind, collect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server answering every request with `respond(path)`: (status line, extra headers, body).
async fn serve(respond: fn(&str) -> (&'static str, String, String)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Headers, then the body by Content-Length.
                loop {
                    let Ok(n) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, headers, body) = respond(&path);
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

fn backend(url: &str, kind: ServerKind) -> Backend {
    Backend::new(
        BackendSpec::new("odd", kind, url.parse().unwrap()),
        mcpcord_llm::http_client(),
    )
}

async fn rate_limited_after(url: &str) -> Option<Duration> {
    let error = backend(url, ServerKind::Ollama)
        .chat(&ChatRequest::new("m", vec![Message::user("hi")]))
        .await
        .err()
        .expect("a 429 is an error");
    match error {
        LlmError::RateLimited { retry_after, .. } => retry_after,
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn odd_retry_after_headers_never_panic() {
    macro_rules! with_header {
        ($value:expr) => {
            serve(|_| {
                (
                    "429 Too Many Requests",
                    format!("retry-after: {}\r\n", $value),
                    r#"{"error":"slow down"}"#.into(),
                )
            })
            .await
        };
    }
    for url in [
        with_header!("-1"),
        with_header!("NaN"),
        with_header!("inf"),
        with_header!("soon"),
    ] {
        assert_eq!(rate_limited_after(&url).await, None);
    }
    assert_eq!(
        rate_limited_after(&with_header!("1e300")).await,
        Some(Duration::from_secs(3600)),
        "clamped to an hour"
    );
    assert_eq!(
        rate_limited_after(&with_header!("2.5")).await,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(
        rate_limited_after(&with_header!("Fri, 31 Dec 9999 23:59:59 GMT")).await,
        Some(Duration::from_secs(3600))
    );
}

#[tokio::test]
async fn odd_numbers_in_metadata_and_answers_are_read_leniently() {
    let url = serve(|path| {
        let body = match path {
            "/api/show" => r#"{"capabilities":["completion","tools"],
                "model_info":{"general.architecture":"llama","llama.context_length":"131072"}}"#,
            "/api/tags" => r#"{"models":[
                {"name":"a","size":-5,"context_length":1e300,"size_vram":"x"},
                {"name":"b","size":1.5}]}"#,
            "/api/chat" => {
                r#"{"message":{"role":"assistant","content":"hi"},"done":true,"prompt_eval_count":-3,"eval_count":7.0,"total_duration":-1,"load_duration":1e300}"#
            }
            _ => "{}",
        };
        ("200 OK", String::new(), body.into())
    })
    .await;
    let backend = backend(&url, ServerKind::Ollama);
    let info = backend.model_info("m").await.unwrap();
    assert_eq!(info.context_length, Some(131_072), "a string of digits");
    let models = backend.list_models().await.unwrap();
    assert_eq!(models.len(), 2, "{models:?}");
    let request = ChatRequest::new("m", vec![Message::user("hi")]);
    let answer = collect(backend.chat(&request).await.unwrap())
        .await
        .unwrap();
    assert_eq!(answer.text, "hi");
}
