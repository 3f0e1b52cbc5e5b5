//! Response actions through the real agent binary enrolled with a real server, driven through
//! the server's HTTP API. A test binary of its own: `restrict` changes what may run on the
//! whole machine and `isolate` a network namespace, so these tests run one at a time and
//! apart from the other agent tests. Needs root; a test whose kernel feature or tool is
//! missing prints why and returns.

mod actions;
mod harness;
mod live;
mod netns;
