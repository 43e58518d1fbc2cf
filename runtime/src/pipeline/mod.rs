//! The outbound path of a call: the connector and its configuration at run time, the request a caller
//! asks for, the one function every attempt goes through, sharing and caching of answers, the transport.

pub(crate) mod cache;
pub mod connector;
pub(crate) mod dedup;
pub(crate) mod execute;
pub(crate) mod halt;
pub mod request;
pub mod response;
pub(crate) mod transport;
