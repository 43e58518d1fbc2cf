//! Final names of inline shapes: after the same shape is met everywhere, by what it means, not by
//! the operation that happened to be lowered first.
//!
//! While lowering, an inline shape gets a provisional name from its context (`ListPetsDirection`,
//! `ListPetsResponse200`, `<parent> <property>`), and each place it is met is recorded. Then:
//! - schemas the description names, and shapes inside them or inside webhooks, keep their names;
//! - a shape used by one operation keeps that operation's name (`CreateIssueBody`);
//! - a shape inside another that is used by exactly the same operations is named after it;
//! - any other shape is shared: it is named by meaning and content ([`names::shared_type_names`]),
//!   the shapes most operations use claiming first (ties by content), so the names do not depend
//!   on document order and an operation that does not use a shape cannot rename it.

use std::collections::{BTreeSet, HashMap};

use crate::audit;
use crate::ir::{Api, Ty, TypeId, TypeKind};
use crate::lower::ShapeMap;
use crate::names::{self, Scope};

/// Where an inline shape was met.
#[derive(Debug, Clone)]
pub enum Meeting {
    /// In a part of the operation with this builder name; the words its name adds (`direction`,
    /// `Response 200`).
    Op(String, String),
    /// Inside this named type; the words its name adds (a property name, `Item`, `Variant1`).
    Parent(TypeId, String),
    /// Elsewhere (a schema the description names, a webhook): its name stays.
    Other,
}

/// Every place each inline shape was met, first one first, and its `title`.
#[derive(Debug, Default)]
pub struct Meetings {
    by_type: HashMap<TypeId, (Vec<Meeting>, Option<String>)>,
}

impl Meetings {
    /// Record that `id` was met at `m` (the first record of a type carries its `title`).
    pub fn add(&mut self, id: TypeId, m: Meeting, title: Option<&str>) {
        let e = self
            .by_type
            .entry(id)
            .or_insert_with(|| (Vec::new(), title.map(str::to_owned)));
        e.0.push(m);
    }
}

/// The words `ctx` adds after `prefix` (whole words only), trimmed.
pub fn words_after(ctx: &str, prefix: &str) -> Option<String> {
    let rest = ctx.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(' ')).then(|| rest.trim().to_owned())
}

/// How a type's final name is decided.
enum Plan {
    Keep,
    Op(String, String),
    Child(TypeId, String),
    Shared,
}

/// Rename the inline shapes of `api` (see the module docs). `by_shape` maps each shape's key to its
/// type; the key orders shared shapes that tie.
pub fn by_meaning(api: &mut Api, met: &Meetings, by_shape: &ShapeMap<'_>) {
    let n = api.types.len();
    let users = audit::users(api);
    let op_index: HashMap<&str, usize> = api
        .operations
        .iter()
        .enumerate()
        .map(|(i, o)| (o.builder.as_str(), i))
        .collect();
    let mut plans: Vec<Plan> = Vec::with_capacity(n);
    for i in 0..n {
        let first = met.by_type.get(&TypeId(i)).and_then(|(m, _)| m.first());
        let plan = match first {
            None | Some(Meeting::Other) => Plan::Keep,
            // A parent is reserved before what is inside it, so it is planned already.
            Some(Meeting::Parent(p, _))
                if plans.get(p.0).is_none_or(|q| matches!(q, Plan::Keep)) =>
            {
                Plan::Keep
            }
            Some(Meeting::Parent(p, words)) if users[i] == users[p.0] => {
                Plan::Child(*p, words.clone())
            }
            Some(Meeting::Op(b, words))
                if users[i].len() == 1
                    && op_index
                        .get(b.as_str())
                        .is_some_and(|o| users[i].iter().any(|u| *u as usize == *o)) =>
            {
                Plan::Op(b.clone(), words.clone())
            }
            Some(_) => Plan::Shared,
        };
        plans.push(plan);
    }
    // Only shared shapes tie, so only theirs are written out as text.
    let mut keys: Vec<String> = vec![String::new(); n];
    for (k, id) in by_shape {
        if plans.get(id.0).is_some_and(|p| matches!(p, Plan::Shared)) {
            keys[id.0] = k.text();
        }
    }
    let mut scope = Scope::default();
    let mut names: Vec<Option<String>> = vec![None; n];
    for (i, plan) in plans.iter().enumerate() {
        if matches!(plan, Plan::Keep) {
            names[i] = Some(scope.claim(&api.types[i].name));
        }
    }
    let mut shared: Vec<usize> = (0..n)
        .filter(|i| matches!(plans[*i], Plan::Shared))
        .collect();
    shared.sort_by(|a, b| {
        users[*b]
            .len()
            .cmp(&users[*a].len())
            .then_with(|| keys[*a].cmp(&keys[*b]))
            .then(a.cmp(b))
    });
    for i in shared {
        let (meetings, title) = &met.by_type[&TypeId(i)];
        let (role, meaning) = meaning_of(meetings);
        let content = content_words(api, i, &plans);
        let candidates =
            names::shared_type_names(title.as_deref(), meaning.as_deref(), &role, &content);
        names[i] = Some(claim_first(&mut scope, &candidates));
    }
    for (i, plan) in plans.iter().enumerate() {
        let wanted = match plan {
            Plan::Op(b, words) => names::type_name(&format!("{b} {words}")),
            Plan::Child(p, words) => {
                let parent = names[p.0].clone().unwrap_or_default();
                names::type_name(&format!("{parent} {words}"))
            }
            Plan::Keep | Plan::Shared => continue,
        };
        names[i] = Some(scope.claim(&wanted));
    }
    let old: Vec<String> = api.types.iter().map(|t| t.name.clone()).collect();
    for (td, name) in api.types.iter_mut().zip(names) {
        if let Some(name) = name {
            td.name = name;
        }
    }
    rename_variants(api, &old);
}

/// The first candidate not taken, else the first one numbered.
fn claim_first(scope: &mut Scope, candidates: &[String]) -> String {
    match candidates.iter().find(|c| !scope.contains(c)) {
        Some(c) => scope.claim(c),
        None => scope.claim(candidates.first().map_or("Shape", String::as_str)),
    }
}

/// The role and meaning a shared shape is named by: of the meaningful words it was met under, the
/// most frequent (ties: the first in order of text), so no single meeting decides.
fn meaning_of(meetings: &[Meeting]) -> (String, Option<String>) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut role = None;
    for m in meetings {
        let words = match m {
            Meeting::Op(_, w) | Meeting::Parent(_, w) => w,
            Meeting::Other => continue,
        };
        let (r, meaning) = names::shape_words(words);
        match meaning {
            Some(mn) => *counts.entry(mn).or_default() += 1,
            None => {
                role.get_or_insert(r);
            }
        }
    }
    let best = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(w, _)| w);
    (role.unwrap_or_default(), best)
}

/// What a shape holds, as words: an enum's values; a struct's property names, each followed by
/// the name of the schema it holds when that name stays (`data TaskResponse`); a union's
/// variants (a variant that is an inline shape by that shape's first words).
fn content_words(api: &Api, i: usize, plans: &[Plan]) -> Vec<String> {
    let kept = |t: &Ty| {
        named_target(t)
            .filter(|t| plans.get(*t).is_some_and(|p| matches!(p, Plan::Keep)))
            .map(|t| api.types[t].name.clone())
    };
    match &api.types[i].kind {
        TypeKind::Enum(e) => e.variants.iter().map(|(_, v)| v.clone()).collect(),
        TypeKind::Struct(s) => s
            .fields
            .iter()
            .flat_map(|f| std::iter::once(f.wire_name.clone()).chain(kept(held(&f.ty))))
            .collect(),
        TypeKind::Union(u) => u
            .variants
            .iter()
            .flat_map(|v| match (kept(&v.ty), named_target(&v.ty)) {
                (Some(name), _) => vec![name],
                (None, Some(t)) if t != i => match &api.types[t].kind {
                    TypeKind::Struct(s) => s
                        .fields
                        .iter()
                        .take(2)
                        .map(|f| f.wire_name.clone())
                        .collect(),
                    TypeKind::Enum(e) => {
                        e.variants.iter().take(2).map(|(_, v)| v.clone()).collect()
                    }
                    _ => Vec::new(),
                },
                (None, Some(_)) => Vec::new(),
                (None, None) => vec![v.name.clone()],
            })
            .collect(),
        TypeKind::Alias(_) => Vec::new(),
    }
}

/// What a field holds, through options, lists and maps.
fn held(t: &Ty) -> &Ty {
    match t {
        Ty::Option(i) | Ty::Vec(i) | Ty::Map(i) | Ty::Box(i) => held(i),
        t => t,
    }
}

/// The named type a union variant holds (maybe optional).
fn named_target(t: &Ty) -> Option<usize> {
    match t {
        Ty::Named(id) => Some(id.0),
        Ty::Option(inner) => named_target(inner),
        _ => None,
    }
}

/// Union variants named after a type that was renamed follow the new name.
fn rename_variants(api: &mut Api, old: &[String]) {
    let renamed: BTreeSet<usize> = (0..api.types.len())
        .filter(|i| api.types[*i].name != old[*i])
        .collect();
    if renamed.is_empty() {
        return;
    }
    let new: Vec<String> = api.types.iter().map(|t| t.name.clone()).collect();
    for td in &mut api.types {
        let TypeKind::Union(u) = &mut td.kind else {
            continue;
        };
        if !u
            .variants
            .iter()
            .any(|v| named_target(&v.ty).is_some_and(|t| renamed.contains(&t)))
        {
            continue;
        }
        let mut scope = Scope::default();
        for v in &mut u.variants {
            let wanted = match named_target(&v.ty) {
                Some(t) if renamed.contains(&t) && v.name == names::variant_name(&old[t]) => {
                    names::variant_name(&new[t])
                }
                _ => v.name.clone(),
            };
            v.name = scope.claim(&wanted);
        }
    }
}
