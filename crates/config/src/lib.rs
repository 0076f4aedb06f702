//! servebench config layer (skeleton).
