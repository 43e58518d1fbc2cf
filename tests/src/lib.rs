//! Generated code of the fixture descriptions in `tests/fixtures`, compiled with warnings denied.
#![deny(warnings)]

// The same generator through its build.rs front (see build.rs): `pub mod petstore_build`.
include!(concat!(env!("OUT_DIR"), "/petstore_build.rs"));

#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/additional_properties.rs"]
pub mod additional_properties;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/all_of.rs"]
pub mod all_of;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/arrays.rs"]
pub mod arrays;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/auth_headers.rs"]
pub mod auth_headers;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/aws_query.rs"]
pub mod aws_query;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/aws_sigv4.rs"]
pub mod aws_sigv4;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/binary_bodies.rs"]
pub mod binary_bodies;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/discriminator_mapping.rs"]
pub mod discriminator_mapping;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/discriminator_tags.rs"]
pub mod discriminator_tags;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/formats.rs"]
pub mod formats;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/integer_enums.rs"]
pub mod integer_enums;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/invalid_values.rs"]
pub mod invalid_values;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/keywords_31.rs"]
pub mod keywords_31;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/media_types.rs"]
pub mod media_types;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/multipart_brackets.rs"]
pub mod multipart_brackets;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/naming.rs"]
pub mod naming;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/nullable.rs"]
pub mod nullable;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/oas32_discriminator.rs"]
pub mod oas32_discriminator;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/oas32_examples.rs"]
pub mod oas32_examples;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/oas32_methods.rs"]
pub mod oas32_methods;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/oas32_self.rs"]
pub mod oas32_self;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/oas32_tags.rs"]
pub mod oas32_tags;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/objects.rs"]
pub mod objects;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/overlay_objects.rs"]
pub mod overlay_objects;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/paging.rs"]
pub mod paging;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/paging_headers.rs"]
pub mod paging_headers;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/param_styles.rs"]
pub mod param_styles;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/path_markers.rs"]
pub mod path_markers;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/querystring.rs"]
pub mod querystring;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/recursion.rs"]
pub mod recursion;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/ref_siblings.rs"]
pub mod ref_siblings;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/request_bodies.rs"]
pub mod request_bodies;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/reserved_names.rs"]
pub mod reserved_names;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/response_headers.rs"]
pub mod response_headers;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/responses.rs"]
pub mod responses;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/security_authorization_header.rs"]
pub mod security_authorization_header;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/security_flows.rs"]
pub mod security_flows;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/security_per_operation.rs"]
pub mod security_per_operation;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/security_warnings.rs"]
pub mod security_warnings;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/sequential_media.rs"]
pub mod sequential_media;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/servers_per_operation.rs"]
pub mod servers_per_operation;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/string_enums.rs"]
pub mod string_enums;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/swagger2.rs"]
pub mod swagger2;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/sync_charges.rs"]
pub mod sync_charges;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/sync_issues.rs"]
pub mod sync_issues;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/sync_shared_columns.rs"]
pub mod sync_shared_columns;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/untagged_unions.rs"]
pub mod untagged_unions;
#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it
#[path = "snapshots/xml_bodies.rs"]
pub mod xml_bodies;
