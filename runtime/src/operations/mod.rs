//! Calls larger than one request and one answer, and what generated code calls: pagination, batches
//! and long-running jobs, streamed answers, uploads and downloads, XML bodies, the support layer
//! behind `__private`.

pub mod batch;
pub mod paginate;
pub mod stream;
pub(crate) mod support;
pub mod transfer;
pub mod xml;
