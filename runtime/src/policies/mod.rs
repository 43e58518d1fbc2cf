//! What decides whether, when and how often a call goes out: retry classification and backoff, the
//! circuit breaker, rate limits, and the bounded parsing of every number a server sends about them.

pub mod bounded;
pub mod breaker;
pub mod ratelimit;
pub mod retry;
