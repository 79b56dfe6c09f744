//! Integration tests of ferrosocket-proto.

mod buffer;
mod close;
mod extension;
mod fragments;
mod output;
mod prop;
mod rules;
mod send;
mod streaming;
mod testkit;
mod timers;
mod ws;
