//! What a connector receives rather than asks for: webhook deliveries, their signatures and dedup.

pub mod webhooks;
