//! Harness for black-box tests of the real podinit binary.
