//! ferrosocket-delimit (work in progress).
#![forbid(unsafe_code)]
