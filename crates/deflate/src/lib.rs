//! ferrosocket-deflate (work in progress).
#![forbid(unsafe_code)]
