//! Path keys that carry a marker after `?` or `#` (`/{Bucket}#list-type=2`, `/#Action=CreateQueue`,
//! `/{Bucket}/{Key}#x-amz-copy-source`), and required parameters that allow one value only: what
//! each part means for the request, as fixed query pairs, fixed headers and parameters kept or left out.

use crate::ir::{Param, ParamLocation};

/// One `&`-separated part of a path key's marker: `k=v` (`value` Some) or a bare `k`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The name before `=`.
    pub name: String,
    /// The value after `=`, if the part has one (`k=` gives an empty value).
    pub value: Option<String>,
}

/// Split a path key into the path template and the parts of its marker: everything from the first
/// `?` or `#` on, split at `&` (and at any further `?` or `#`).
pub fn split_key(key: &str) -> (String, Vec<Marker>) {
    let Some(at) = key.find(['?', '#']) else {
        return (key.to_owned(), Vec::new());
    };
    let parts = key[at + 1..]
        .split(['&', '?', '#'])
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Marker {
                name: k.to_owned(),
                value: Some(v.to_owned()),
            },
            None => Marker {
                name: kv.to_owned(),
                value: None,
            },
        })
        .collect();
    (key[..at].to_owned(), parts)
}

/// What an operation sends because of its path key's marker and its single-valued parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fixed {
    /// Query pairs, in the order the marker gives them, then those of single-valued parameters.
    pub query: Vec<(String, String)>,
    /// Headers (name as the parameter spells it, value).
    pub headers: Vec<(String, String)>,
    /// Warnings, each said at the path key.
    pub warnings: Vec<String>,
}

/// Apply the marker `parts` of a path key to an operation's parameters: parameters the marker fixes
/// leave `params`, and the values it fixes are returned with a warning for anything not honoured.
/// `single` gives the one value a parameter's schema allows (`enum: [x]` or `const: x`), when it does.
pub fn apply(
    parts: &[Marker],
    params: &mut Vec<Param>,
    single: &dyn Fn(&Param) -> Option<String>,
) -> Fixed {
    let mut out = Fixed::default();
    for part in parts {
        let name = part.name.as_str();
        if name.ends_with('!') {
            // `#lifecycle&deprecated!`: a mark that only tells two path keys apart.
            out.warnings.push(format!(
                "path key part `{name}` only tells this operation apart from another with the same path; it is not sent"
            ));
            continue;
        }
        let header = params.iter().position(|p| {
            p.location == ParamLocation::Header && p.wire_name.eq_ignore_ascii_case(name)
        });
        let query = params
            .iter()
            .position(|p| p.location == ParamLocation::Query && p.wire_name == name);
        match (header, query, &part.value) {
            (Some(i), _, Some(v)) => {
                let p = &params[i];
                out.headers.push((p.wire_name.clone(), v.clone()));
                if single(p).as_deref() == Some(v.as_str()) {
                    params.remove(i);
                } else {
                    out.warnings.push(format!(
                        "path key part `{name}={v}` fixes header `{}`, whose schema also allows other values: `{v}` is sent unless the builder's `{}` sets another",
                        p.wire_name, p.name
                    ));
                    // The marker's value stands in when the caller sets nothing.
                    params[i].required = false;
                }
            }
            (Some(i), _, None) => {
                let p = &params[i];
                if !p.required {
                    out.warnings.push(format!(
                        "path key part `{name}` says header `{}` is what sets this operation apart, but the parameter is optional; it is kept optional, and a call without it may reach another operation",
                        p.wire_name
                    ));
                }
            }
            (None, Some(i), Some(v)) => {
                let p = params.remove(i);
                if single(&p).is_some_and(|s| s != *v) {
                    out.warnings.push(format!(
                        "path key part `{name}={v}` fixes query parameter `{name}`, whose schema allows only `{}`; `{v}` is sent",
                        single(&p).unwrap_or_default()
                    ));
                }
                out.query.push((name.to_owned(), v.clone()));
            }
            (None, Some(i), None) => {
                let p = &params[i];
                if !p.required {
                    out.warnings.push(format!(
                        "path key part `{name}` says query parameter `{name}` is what sets this operation apart, but the parameter is optional; it is kept optional, and a call without it may reach another operation"
                    ));
                }
            }
            (None, None, Some(v)) => out.query.push((name.to_owned(), v.clone())),
            // A flag (`?uploads`): sent with an empty value, `uploads=`.
            (None, None, None) => out.query.push((name.to_owned(), String::new())),
        }
    }
    // Required header and query parameters that allow a single value are sent at it.
    params.retain(|p| {
        let fixed = p.required
            && matches!(p.location, ParamLocation::Header | ParamLocation::Query)
            && p.default.is_none();
        match single(p).filter(|_| fixed) {
            Some(v) => {
                let list = if p.location == ParamLocation::Header {
                    &mut out.headers
                } else {
                    &mut out.query
                };
                if !list
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case(&p.wire_name))
                {
                    list.push((p.wire_name.clone(), v));
                }
                false
            }
            None => true,
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Checks, ParamStyle, Ty};

    fn param(wire: &str, location: ParamLocation, required: bool) -> Param {
        Param {
            wire_name: wire.to_owned(),
            name: crate::names::snake_name(wire),
            location,
            style: ParamStyle::Simple,
            explode: false,
            required,
            ty: Ty::String,
            doc: None,
            constraints: Checks::default(),
            default: None,
            media_type: None,
        }
    }

    fn marker(name: &str, value: Option<&str>) -> Marker {
        Marker {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn keys_split_at_the_first_marker_and_at_each_ampersand() {
        assert_eq!(
            split_key("/{Bucket}#list-type=2"),
            ("/{Bucket}".into(), vec![marker("list-type", Some("2"))])
        );
        assert_eq!(
            split_key("/{Bucket}/{Key}#x-amz-copy-source&partNumber&uploadId"),
            (
                "/{Bucket}/{Key}".into(),
                vec![
                    marker("x-amz-copy-source", None),
                    marker("partNumber", None),
                    marker("uploadId", None)
                ]
            )
        );
        assert_eq!(
            split_key("/{AccountNumber}/{QueueName}/#Action=AddPermission"),
            (
                "/{AccountNumber}/{QueueName}/".into(),
                vec![marker("Action", Some("AddPermission"))]
            )
        );
        assert_eq!(
            split_key("/responses?beta=true&empty="),
            (
                "/responses".into(),
                vec![marker("beta", Some("true")), marker("empty", Some(""))]
            )
        );
        assert_eq!(split_key("/plain/{id}"), ("/plain/{id}".into(), vec![]));
    }

    #[test]
    fn each_part_is_a_header_a_query_pair_a_flag_or_a_distinguishing_parameter() {
        let target = |p: &Param| {
            (p.wire_name == "X-Amz-Target").then(|| "DynamoDB_20120810.GetItem".to_owned())
        };
        let mut params = vec![
            param("X-Amz-Target", ParamLocation::Header, true),
            param("x-amz-copy-source", ParamLocation::Header, false),
            param("uploadId", ParamLocation::Query, true),
            param("Action", ParamLocation::Query, true),
        ];
        let fixed = apply(
            &[
                marker("x-amz-target", Some("DynamoDB_20120810.GetItem")),
                marker("X-Amz-Copy-Source", None),
                marker("uploadId", None),
                marker("Action", Some("CreateQueue")),
                marker("list-type", Some("2")),
                marker("uploads", None),
                marker("deprecated!", None),
            ],
            &mut params,
            &target,
        );
        assert_eq!(
            fixed.headers,
            vec![("X-Amz-Target".into(), "DynamoDB_20120810.GetItem".into())]
        );
        assert_eq!(
            fixed.query,
            vec![
                ("Action".into(), "CreateQueue".into()),
                ("list-type".into(), "2".into()),
                ("uploads".into(), String::new()),
            ]
        );
        let left: Vec<&str> = params.iter().map(|p| p.wire_name.as_str()).collect();
        assert_eq!(left, ["x-amz-copy-source", "uploadId"]);
        assert_eq!(fixed.warnings.len(), 2, "{:?}", fixed.warnings);
        assert!(fixed.warnings[0].contains("`x-amz-copy-source`"));
        assert!(fixed.warnings[1].contains("`deprecated!`"));
    }

    #[test]
    fn a_marker_value_the_header_schema_does_not_pin_is_a_default_the_caller_may_replace() {
        let mut params = vec![param("X-Amz-Target", ParamLocation::Header, true)];
        let fixed = apply(
            &[marker("X-Amz-Target", Some("Svc.Op"))],
            &mut params,
            &|_| None,
        );
        assert_eq!(
            fixed.headers,
            vec![("X-Amz-Target".into(), "Svc.Op".into())]
        );
        assert_eq!(params.len(), 1);
        assert!(!params[0].required);
        assert_eq!(fixed.warnings.len(), 1);
    }

    #[test]
    fn required_single_valued_parameters_are_fixed_and_optional_ones_stay() {
        let one = |p: &Param| Some(format!("{}-value", p.wire_name));
        let mut params = vec![
            param("Version", ParamLocation::Query, true),
            param("X-Kind", ParamLocation::Header, true),
            param("maybe", ParamLocation::Query, false),
            param("id", ParamLocation::Path, true),
        ];
        let fixed = apply(&[], &mut params, &one);
        assert_eq!(
            fixed.query,
            vec![("Version".into(), "Version-value".into())]
        );
        assert_eq!(
            fixed.headers,
            vec![("X-Kind".into(), "X-Kind-value".into())]
        );
        let left: Vec<&str> = params.iter().map(|p| p.wire_name.as_str()).collect();
        assert_eq!(left, ["maybe", "id"]);
        assert!(fixed.warnings.is_empty());
    }
}
