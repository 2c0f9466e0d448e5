//! Numbered placeholders for SQL written piece by piece: each value pushed gets the next `$n`,
//! and the values are bound in that order.

use sqlx::any::AnyArguments;
use sqlx::query::{QueryAs, QueryScalar};

/// A value bound to a placeholder.
#[derive(Clone, Debug)]
pub(crate) enum Param {
    /// An integer (ids, times, limits).
    Int(i64),
    /// Text (a full-text query).
    Text(String),
}

/// The values of a statement being written, in placeholder order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Params {
    values: Vec<Param>,
}

impl Params {
    /// The placeholder for an integer.
    pub(crate) fn int(&mut self, value: i64) -> String {
        self.push(Param::Int(value))
    }

    /// The placeholder for a text.
    pub(crate) fn text(&mut self, value: impl Into<String>) -> String {
        self.push(Param::Text(value.into()))
    }

    fn push(&mut self, value: Param) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    /// Binds every value to `query` (one reading rows into `T`), in order.
    pub(crate) fn bind_as<'q, T>(
        &self,
        mut query: QueryAs<'q, sqlx::Any, T, AnyArguments<'q>>,
    ) -> QueryAs<'q, sqlx::Any, T, AnyArguments<'q>> {
        for value in &self.values {
            query = match value {
                Param::Int(int) => query.bind(*int),
                Param::Text(text) => query.bind(text.clone()),
            };
        }
        query
    }

    /// Binds every value to `query` (one reading a single column into `T`), in order.
    pub(crate) fn bind_scalar<'q, T>(
        &self,
        mut query: QueryScalar<'q, sqlx::Any, T, AnyArguments<'q>>,
    ) -> QueryScalar<'q, sqlx::Any, T, AnyArguments<'q>> {
        for value in &self.values {
            query = match value {
                Param::Int(int) => query.bind(*int),
                Param::Text(text) => query.bind(text.clone()),
            };
        }
        query
    }
}
