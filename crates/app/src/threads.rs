//! The threaded runtime: sockets whose blocking reads and writes run on threads
//! of their own, a timer thread, and `block_on`, so that the app layer's
//! connection code runs unchanged on one thread per connection.
