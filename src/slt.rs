//! sqllogictest driver over [`crate::Database`]. PLACEHOLDER: being written.
