//! Loopback parts shared by the fault and soak suites: a fault-injection proxy and the counting upstream behind it.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod upstream;
