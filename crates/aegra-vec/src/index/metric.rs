//! How a query and a vector are scored.

use crate::errors::{VecError, VecResult};

/// How a query and a vector are scored; higher is better, as LangGraph's stores report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity (0 when either side is the zero vector).
    Cosine,
    /// The dot product (PostgresStore's `-(a <#> b)`).
    InnerProduct,
}

impl Metric {
    pub fn parse(name: &str) -> VecResult<Self> {
        match name {
            "cosine" => Ok(Self::Cosine),
            "inner_product" => Ok(Self::InnerProduct),
            other => Err(VecError(format!(
                "unknown metric '{other}'; expected 'cosine' or 'inner_product'"
            ))),
        }
    }

    /// The final score from the kernel's f32 output; the numpy twin does the same f64 steps.
    #[inline]
    pub fn score(self, raw: f32, query_norm: f64, vector_norm: f64) -> f64 {
        match self {
            Self::Cosine if query_norm == 0.0 || vector_norm == 0.0 => 0.0,
            Self::Cosine => raw as f64 / (query_norm * vector_norm),
            Self::InnerProduct => raw as f64,
        }
    }
}
