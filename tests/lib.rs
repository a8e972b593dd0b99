//! End-to-end tests of the workspace over loopback; the tests live in `tests/e2e/`, built as
//! one integration-test binary.
