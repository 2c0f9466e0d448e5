//! Model backends: the Ollama native API, OpenAI-compatible servers and the backend pool.
//!
//! Filled in by the model-backends issue.
