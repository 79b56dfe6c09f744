//! The five timers over real loopback TCP on smol and async-std, against the raw
//! misbehaving peers of ferrosocket-testkit, served as in the behaviour scenarios:
//! the same scenarios test the tokio and blocking engines.

mod smol_rt {
    ferrosocket_testkit::timer_tests!(crate::behaviour::smol_rt::serve);
}

mod async_std_rt {
    ferrosocket_testkit::timer_tests!(crate::behaviour::async_std_rt::serve);
}
