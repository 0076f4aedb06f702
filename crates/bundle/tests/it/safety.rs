//! Shell safety.
