//! The runtime's security contract. The cases live in `tests/`: each has a
//! stable ID (`FS-001`), a one-line promise, a hostile or positive skill,
//! and assertions on both the outcome and the world outside the sandbox.
