//! `cargo xtask naming`: per vendor connector, how many generated types are named after an operation
//! other than their sole user (the generator's naming audit), with a few examples.

use crate::manifest;

/// One vendor's result.
pub struct VendorAudit {
    /// Manifest name.
    pub name: String,
    /// The audit.
    pub audit: connector_codegen::audit::Audit,
}

/// Audit the manifest entries named in `only` (all when empty); descriptions not found are skipped
/// with a message and listed in the second value.
pub fn audit_vendors(only: &[String]) -> Result<(Vec<VendorAudit>, Vec<String>), String> {
    let root = crate::root();
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for e in entries
        .iter()
        .filter(|e| only.is_empty() || only.contains(&e.name))
    {
        let spec = match manifest::locate(&root, e) {
            Ok(p) => p,
            Err(manifest::Missing::NotFound(why)) => {
                eprintln!("xtask: SKIPPED {}: {why}", e.name);
                skipped.push(e.name.clone());
                continue;
            }
            Err(manifest::Missing::Mismatch(why)) => return Err(why),
        };
        let settings = crate::entry_settings(&root, e)?;
        let audit = connector_codegen::naming_audit(&spec, &settings)
            .map_err(|d| format!("{}: {d}", e.name))?;
        out.push(VendorAudit {
            name: e.name.clone(),
            audit,
        });
    }
    Ok((out, skipped))
}

/// The command: prints a table and fails when any vendor has an offence.
pub fn run(args: &[String]) -> Result<(), String> {
    let started = std::time::Instant::now();
    let list = args.iter().any(|a| a == "--list");
    let only: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    let (vendors, skipped) = audit_vendors(&only)?;
    println!(
        "{:<14} {:>7} {:>9} {:>9}  examples",
        "vendor", "types", "offending", "described"
    );
    let mut total = 0;
    for v in &vendors {
        let examples: Vec<String> = v
            .audit
            .offences
            .iter()
            .take(3)
            .map(|o| {
                let users = if o.users.is_empty() {
                    "no operation".to_owned()
                } else if o.users.len() > 2 {
                    format!(
                        "{}, {} and {} more",
                        o.users[0],
                        o.users[1],
                        o.users.len() - 2
                    )
                } else {
                    o.users.join(", ")
                };
                format!("{} (used by {users})", o.type_name)
            })
            .collect();
        println!(
            "{:<14} {:>7} {:>9} {:>9}  {}",
            v.name,
            v.audit.types,
            v.audit.offences.len(),
            v.audit.described.len(),
            examples.join("; ")
        );
        if list {
            for (what, list) in [
                ("generated", &v.audit.offences),
                ("described", &v.audit.described),
            ] {
                for o in list {
                    println!(
                        "  {what} {} (named after {}; used by {}; at {})",
                        o.type_name,
                        o.operation,
                        o.users.join(", "),
                        o.origin
                    );
                }
            }
        }
        total += v.audit.offences.len();
    }
    eprintln!(
        "xtask: naming audit took {} ms",
        started.elapsed().as_millis()
    );
    if !skipped.is_empty() {
        eprintln!("xtask: WARNING: not audited: {}", skipped.join(", "));
    }
    if total > 0 {
        return Err(format!(
            "{total} type name(s) embed an operation that is not their sole user"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// About ten seconds in a debug build (it lowers the eight vendor descriptions); descriptions
    /// that are not on this machine are reported and left out, as `generate --check` does.
    #[test]
    fn no_vendor_type_is_named_after_another_operation() {
        let (vendors, skipped) = audit_vendors(&[]).expect("audits");
        if !skipped.is_empty() {
            eprintln!("naming audit: descriptions not found, not audited: {skipped:?}");
        }
        assert_eq!(vendors.len() + skipped.len(), 8);
        for v in vendors {
            let examples: Vec<&str> = v
                .audit
                .offences
                .iter()
                .take(5)
                .map(|o| o.type_name.as_str())
                .collect();
            assert_eq!(v.audit.offences.len(), 0, "{}: {examples:?}", v.name);
        }
    }
}
