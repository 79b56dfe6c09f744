//! The five timers over real loopback TCP, against the raw misbehaving peers of
//! ferrosocket-testkit, served as in the behaviour scenarios: the same scenarios
//! test the smol, async-std and blocking engines.

ferrosocket_testkit::timer_tests!(crate::behaviour::serve);
