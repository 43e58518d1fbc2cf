//! Generated code of the fixture descriptions in `tests/fixtures`, compiled with warnings denied.
#![deny(warnings)]
