//! Placeholder: the manifest module is being written.

/// Manifest errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {}
