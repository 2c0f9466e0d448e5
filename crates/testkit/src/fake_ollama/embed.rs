//! Embeddings: deterministic vectors and the three endpoints that serve them
//! (`/api/embed`, the legacy `/api/embeddings`, and `/v1/embeddings`).
//!
//! A vector is a bag of concepts: every lower-cased word that is not a stop word ("the", "is",
//! …) is mapped to its concept ([`CONCEPTS`]: "car", "automobile" and "vehicle" are one), each
//! concept seeds a pseudo-random vector, they are summed with a little of the whole text's own
//! vector, and the sum is normalized. So the same text always gives the same vector, texts
//! sharing words are close (cosine > 0), and so are texts that share only a meaning ("my
//! automobile is crimson" and "what colour is the red car"): what a real embedding model does,
//! well enough for tests of semantic search. Unrelated texts are nearly orthogonal.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::checks::{find_model, model_field, parse_json};
use super::errors::{Reject, json_response};
use super::model::FakeModel;
use super::script::estimate_tokens;
use super::state::Shared;

/// 64-bit FNV-1a hash.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One step of the splitmix64 generator.
pub(crate) fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Adds `weight` times the pseudo-random vector seeded by `seed` to `v`.
fn add_seeded(v: &mut [f32], seed: u64, weight: f32) {
    let mut state = seed;
    for x in v.iter_mut() {
        state = splitmix64(state);
        // 24 high bits → [-1, 1)
        let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
        *x += weight * (unit * 2.0 - 1.0);
    }
}

/// Scales `v` to length 1 (a zero vector becomes the first unit vector).
fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else if let Some(first) = v.first_mut() {
        *first = 1.0;
    }
}

/// Groups of words with one meaning; a word maps to its group's first word.
pub const CONCEPTS: &[&[&str]] = &[
    &["car", "automobile", "vehicle", "cars", "auto", "sedan"],
    &["red", "crimson", "scarlet", "ruby"],
    &["colour", "color", "hue", "shade"],
    &[
        "like",
        "love",
        "favourite",
        "favorite",
        "enjoy",
        "prefer",
        "fond",
    ],
    &["dog", "puppy", "hound", "canine", "dogs"],
    &["cat", "kitten", "feline", "cats"],
    &["pet", "pets", "animal", "companion"],
    &["name", "named", "called"],
    &["birthday", "born", "birth"],
    &["food", "meal", "dish", "cuisine", "eat", "eating"],
    &["pizza", "margherita", "calzone"],
    &["holiday", "vacation", "trip", "travel", "journey"],
    &["japan", "tokyo", "kyoto", "japanese"],
    &["work", "job", "employer", "career", "occupation"],
    &["doctor", "physician", "medic", "surgeon"],
    &["music", "song", "songs", "melody", "tune"],
    &["guitar", "bass", "ukulele"],
    &["house", "home", "flat", "apartment"],
    &["city", "town", "village"],
    &["allergy", "allergic", "intolerant"],
    &["peanut", "peanuts", "groundnut"],
];

/// Words that carry no meaning of their own: left out, as real models mostly ignore them.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "my", "your", "i", "you", "me", "do",
    "does", "did", "of", "to", "in", "on", "at", "and", "or", "it", "its", "what", "which", "who",
    "that", "this", "for", "with", "we", "our", "have", "has", "had", "so", "very",
];

/// The seed of `word`: its concept's, or its own.
fn concept_seed(word: &str) -> u64 {
    let concept = CONCEPTS
        .iter()
        .find(|group| group.contains(&word))
        .map_or(word, |group| group[0]);
    fnv1a(concept.as_bytes())
}

/// The deterministic, normalized vector of `text`, with `dims` dimensions.
pub fn embedding_vector(text: &str, dims: usize) -> Vec<f32> {
    let mut v = vec![0.0_f32; dims];
    let lower = text.to_lowercase();
    let words = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w));
    for word in words {
        add_seeded(&mut v, concept_seed(word), 1.0);
    }
    add_seeded(&mut v, fnv1a(text.as_bytes()), 0.1);
    normalize(&mut v);
    v
}

/// `input` as a list of texts: a string or an array of strings (absent: none).
fn inputs(input: Option<&Value>) -> Result<Vec<String>, Reject> {
    match input {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Reject::bad_request("invalid input type")),
        Some(_) => Err(Reject::bad_request("invalid input type")),
    }
}

/// The model's dimension, or the requested smaller `dimensions`.
fn dimensions(req: &Value, model: &FakeModel) -> Result<usize, Reject> {
    let full = usize::try_from(model.embedding_length).unwrap_or(usize::MAX);
    match req.get("dimensions") {
        None | Some(Value::Null) => Ok(full),
        Some(v) => match v.as_u64().and_then(|d| usize::try_from(d).ok()) {
            Some(d) if d > 0 && d <= full => Ok(d),
            _ => Err(Reject::bad_request(format!(
                "dimensions must be an integer between 1 and {full}"
            ))),
        },
    }
}

/// Vectors of `texts`, truncated to `dims` and normalized again.
fn vectors(texts: &[String], full: u64, dims: usize) -> Vec<Vec<f32>> {
    let full = usize::try_from(full).unwrap_or(dims);
    texts
        .iter()
        .map(|t| {
            let mut v = embedding_vector(t, full);
            v.truncate(dims);
            normalize(&mut v);
            v
        })
        .collect()
}

fn token_count(texts: &[String]) -> u64 {
    texts.iter().map(|t| estimate_tokens(t)).sum()
}

/// Checks an embedding request and returns the model, texts and dimension.
fn prepare(
    shared: &Shared,
    body: &[u8],
    input_key: &str,
) -> Result<(Value, FakeModel, Vec<String>, usize), Reject> {
    let req = parse_json(body)?;
    let name = model_field(&req)?;
    let model = find_model(shared, &name)?;
    let texts = inputs(req.get(input_key))?;
    let dims = dimensions(&req, &model)?;
    shared.lock().loaded.insert(model.name.clone());
    Ok((req, model, texts, dims))
}

/// `POST /api/embed`.
pub(crate) async fn api_embed(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    const PATH: &str = "/api/embed";
    if shared.lock().embeddings_down {
        return Reject::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server busy, please try again",
        )
        .native(&shared, PATH);
    }
    match prepare(&shared, &body, "input") {
        Err(reject) => reject.native(&shared, PATH),
        Ok((req, model, texts, dims)) => json_response(
            StatusCode::OK,
            &json!({
                "model": req.get("model"),
                "embeddings": vectors(&texts, model.embedding_length, dims),
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": token_count(&texts),
            }),
        ),
    }
}

/// `POST /api/embeddings` (legacy: one `prompt`, one `embedding`).
pub(crate) async fn api_embeddings(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    const PATH: &str = "/api/embeddings";
    match prepare(&shared, &body, "prompt") {
        Err(reject) => reject.native(&shared, PATH),
        Ok((_, model, texts, dims)) => {
            let embedding = vectors(&texts, model.embedding_length, dims)
                .pop()
                .unwrap_or_default();
            json_response(StatusCode::OK, &json!({ "embedding": embedding }))
        }
    }
}

/// `POST /v1/embeddings`.
pub(crate) async fn openai_embeddings(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    const PATH: &str = "/v1/embeddings";
    if shared.lock().embeddings_down {
        return Reject::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server busy, please try again",
        )
        .openai(&shared, PATH);
    }
    let (req, model, texts, dims) = match prepare(&shared, &body, "input") {
        Ok(ok) if ok.2.is_empty() => {
            return Reject::bad_request("invalid input").openai(&shared, PATH);
        }
        Ok(ok) => ok,
        Err(reject) => return reject.openai(&shared, PATH),
    };
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = vectors(&texts, model.embedding_length, dims)
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "embedding": embedding, "index": index })
        })
        .collect();
    let tokens = token_count(&texts);
    json_response(
        StatusCode::OK,
        &json!({
            "object": "list",
            "data": data,
            "model": req.get("model"),
            "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn texts_sharing_only_a_meaning_are_close_and_unrelated_ones_are_not() {
        let fact = embedding_vector("My favourite automobile is a crimson Volvo", 384);
        let question = embedding_vector("Which car do I like? Red?", 384);
        let unrelated = embedding_vector("Quantum chromodynamics lecture notes", 384);
        assert!(
            cosine(&fact, &question) > 0.6,
            "{}",
            cosine(&fact, &question)
        );
        assert!(cosine(&fact, &unrelated).abs() < 0.2);
        assert!(cosine(&question, &unrelated).abs() < 0.2);
    }
}
