//! Integration tests of `ferrosocket-delimit`: every mode gives the same items for
//! any chunking of the same messages, mode switches keep the buffered data, types
//! never mix (1003), the cap holds (1009) with its automatic raise, and delimiter
//! scanning stays linear.

mod chunking;
mod linear;
mod overflow;
mod support;
mod switches;
mod types;
