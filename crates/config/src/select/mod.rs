//! Test selection (being written).
