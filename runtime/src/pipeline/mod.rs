//! The outbound path of a call: the connector and its configuration at run time, the request a caller
//! asks for, the one function every attempt goes through, sharing and caching of answers, the transport
//! (reqwest, and the lane beneath it) and its TLS configuration.

pub(crate) mod cache;
pub mod connector;
pub(crate) mod dedup;
pub(crate) mod execute;
pub(crate) mod halt;
pub(crate) mod lane;
pub(crate) mod redirect;
pub mod request;
pub mod response;
pub(crate) mod tls;
pub(crate) mod transport;
