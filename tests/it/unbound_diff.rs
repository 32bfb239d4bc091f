//! Differential test against Unbound (placeholder until written).
