//! `connector-blob`: blob storage connectors. One [`BlobStore`] over Amazon S3 (and S3-compatible
//! servers), Azure Blob Storage and Google Cloud Storage: lazily paged listings with prefixes and
//! delimiters, metadata, whole, ranged and streamed reads (resumed when a connection drops),
//! writes from bytes or streams (multipart, block or composite uploads above a threshold, with
//! bounded memory and concurrency), conditional writes, batch deletes, copies, ACLs and bucket
//! creation.
//!
//! The providers' protocols are object_store's; its HTTP goes through the connector runtime's
//! pipeline ([`transport`]), so retries, the circuit breaker, limits, hooks, structured errors,
//! spans and metrics are those of every other connector. [`BlobStore::object_store`] hands the same
//! client to libraries that take an `Arc<dyn ObjectStore>` (DataFusion, delta-rs, Polars).
//!
//! ```no_run
//! # async fn demo() -> Result<(), connector_runtime::Error> {
//! use connector_blob::{BlobStore, WriteOptions};
//! let store = BlobStore::from_url("s3://my-bucket/exports/").await?;
//! store.write("today.csv", "id,name\n1,a\n".into(), WriteOptions::default()).await?;
//! let info = store.stat("today.csv").await?;
//! println!("{} bytes, etag {:?}", info.size, info.etag);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod error;
pub mod gcs;
pub mod store;
pub mod transport;

pub use config::{BlobConfig, BlobUrl, Credentials, Provider, UploadConfig};
pub use store::{
    Acl, BlobStore, Condition, DeleteReport, Entry, ListOptions, ObjectInfo, ObjectReader,
    PublicAccess, WriteOptions, WriteResult,
};

/// object_store, as this crate uses it (for its `ObjectStore` trait and types).
pub use object_store;
