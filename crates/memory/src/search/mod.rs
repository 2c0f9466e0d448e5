//! Search over stored messages: who may see what ([`SearchScope`]), the keyword index
//! ([`Store::keyword_search`](crate::Store::keyword_search)), and the fusion of ranked lists
//! ([`fuse`], [`recency_weight`]) that keyword, vector and recency rankings share.
//!
//! Scope is part of every query's SQL (`scope.rs` writes the condition), never a filter applied
//! to results afterwards: a message a person may not see is never read.

mod fusion;
mod hybrid;
mod keyword;
mod maintenance;
mod params;
mod scope;
mod snippet;

pub use fusion::{DEFAULT_HALF_LIFE, DEFAULT_RRF_K, fuse, fuse_weighted, recency_weight};
pub use hybrid::Meaning;
pub use keyword::{SearchHit, SearchQuery};
pub use maintenance::{EMBEDDINGS_TABLE, SearchStats};
pub use scope::{SearchScope, Viewer};

pub(crate) use params::Params;
pub(crate) use snippet::terms;
