//! Placeholder: the WAL module is being written.

/// WAL errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {}
