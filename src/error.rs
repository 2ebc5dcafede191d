//! The library's top-level error. CONTRACT PLACEHOLDER: variants are being written.

/// Errors returned by [`crate::Database`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Storage engine failure.
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
    /// Query planning or execution failure.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

/// Result of library operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
