//! OpenAI-compatible servers (llama.cpp, vLLM, LM Studio, LocalAI, Ollama's `/v1`):
//! `/chat/completions` with SSE streaming and streamed tool-call deltas, `/models`, `/embeddings`.

mod client;
mod wire;

pub use client::OpenAiClient;
