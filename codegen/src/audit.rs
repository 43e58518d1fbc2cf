//! The naming audit: generated types whose name embeds the id of an operation they do not belong to.
//!
//! A type named after an operation (`CreateIssueRequest`) is right when that operation is the only
//! one that uses it. When another operation uses it too (a shared `direction` enum first met in some
//! other operation), or when that operation does not use it at all, the name misleads: it is an
//! offence. `cargo xtask naming` counts offences per vendor connector.

pub mod shapes;

use crate::ir::{Api, Ty};
use crate::passes::{operation_roots, reachability};

/// One misleading name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offence {
    /// The type's name.
    pub type_name: String,
    /// The operation id (as a builder name) the type name starts with.
    pub operation: String,
    /// The builders of the operations that use the type (directly or through other types).
    pub users: Vec<String>,
    /// Where the generator first met the type (a JSON pointer).
    pub origin: String,
}

/// The audit of one API.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Named types in the model.
    pub types: usize,
    /// Types the generator named whose name embeds an operation other than their sole user.
    pub offences: Vec<Offence>,
    /// Types named as the description names a schema (a component) whose name happens to embed an
    /// operation other than their sole user: the description's own words, kept, not counted.
    pub described: Vec<Offence>,
}

/// For every type, the operations (indices) that reach it through a parameter, body, answer, stream
/// or page item, directly or through other types; each list ascending, each operation once.
pub fn users(api: &Api) -> Vec<Vec<u32>> {
    let sources: Vec<Vec<&Ty>> = api
        .operations
        .iter()
        .map(|op| operation_roots(op).collect())
        .collect();
    reachability(api, &sources)
}

/// Whether `name` starts with the word sequence `prefix` (the next character begins a new word).
fn starts_with_words(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| {
        rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

/// The types whose name starts with an operation's builder name (the longest that fits) while some
/// other operation uses them, or that operation does not.
pub fn audit(api: &Api) -> Audit {
    let users = users(api);
    let mut builders: Vec<(usize, &str)> = api
        .operations
        .iter()
        .enumerate()
        .map(|(i, o)| (i, o.builder.as_str()))
        .collect();
    // Longest first, so `GetCustomersCustomer` wins over `GetCustomers` for `GetCustomersCustomerX`.
    builders.sort_by_key(|(_, b)| std::cmp::Reverse(b.len()));
    let mut offences = Vec::new();
    let mut described = Vec::new();
    for (i, td) in api.types.iter().enumerate() {
        let Some(&(oi, builder)) = builders
            .iter()
            .find(|(_, b)| starts_with_words(&td.name, b))
        else {
            continue;
        };
        let by = &users[i];
        if by.len() == 1 && by[0] as usize == oi {
            continue;
        }
        // A schema the description names is lowered with its `$ref` as origin; shapes the generator
        // names are met at a pointer into an operation or webhook.
        let list = if td.origin.starts_with('#') {
            &mut described
        } else {
            &mut offences
        };
        list.push(Offence {
            type_name: td.name.clone(),
            origin: td.origin.clone(),
            operation: builder.to_owned(),
            users: by
                .iter()
                .map(|u| api.operations[*u as usize].builder.clone())
                .collect(),
        });
    }
    Audit {
        types: api.types.len(),
        offences,
        described,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_prefixes_end_at_a_word() {
        assert!(starts_with_words("ListPetsResponse", "ListPets"));
        assert!(starts_with_words("ListPets", "ListPets"));
        assert!(starts_with_words("ListPets2Item", "ListPets"));
        assert!(!starts_with_words("ListPetsxResponse", "ListPets"));
        assert!(!starts_with_words("Pets", "ListPets"));
    }
}
