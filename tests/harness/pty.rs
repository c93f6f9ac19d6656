//! Pseudo-terminal helpers for tests of the foreground process group.
