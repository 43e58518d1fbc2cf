//! IR passes run between lowering and emission, in a fixed order: recursion boxing, then the facts
//! emission needs (which types derive `Default`, which are sent in requests, which validate, which
//! crates the output uses).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ir::*;

/// Facts about an [`Api`] that emission needs.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Types that can derive `Default`.
    pub defaultable: BTreeSet<TypeId>,
    /// Types reachable from request bodies (tri-state fields apply to these).
    pub request_types: BTreeSet<TypeId>,
    /// Types that derive `Serialize`: those sent (parameters and bodies, closed under the types they
    /// contain), and those nothing reaches (kept whole for callers).
    pub serialized: BTreeSet<TypeId>,
    /// Types that derive `Deserialize`: every type: those received (answers, errors, stream events,
    /// page items, sync streams' items, webhook payloads, closed under the types they contain), those
    /// sent (requests built from JSON), and those nothing reaches.
    pub deserialized: BTreeSet<TypeId>,
    /// Types with a `validate()` method (constraints somewhere inside).
    pub validating: BTreeSet<TypeId>,
    /// The output uses `chrono`.
    pub uses_chrono: bool,
    /// The output uses `uuid`.
    pub uses_uuid: bool,
    /// Aliases that contain themselves (through lists, maps or other aliases): emitted as newtypes,
    /// since a type alias cannot refer to itself.
    pub newtypes: BTreeSet<TypeId>,
    /// The cargo features a type is compiled under, for types not every feature needs: the groups
    /// (and `webhook_events`) whose operations reach it, or `all` for types nothing reaches. Types
    /// every feature reaches are absent (always compiled).
    pub gates: BTreeMap<TypeId, Vec<String>>,
    /// The XML form of the types XML bodies and answers reach, and the query protocol operations
    /// (filled by the `xml` pass).
    pub xml: crate::xml::XmlFacts,
    /// Types of the same shape as an earlier one (filled by [`same_shapes`] for emission): each is
    /// emitted as an alias of the first of its shape, so an API that spells one inline schema in many
    /// places compiles it once.
    pub same_as: BTreeMap<TypeId, TypeId>,
}

/// Run all passes.
pub fn run(api: &mut Api) -> Facts {
    box_recursion(api);
    let mut facts = Facts {
        defaultable: defaultable(api),
        request_types: request_types(api),
        serialized: BTreeSet::new(),
        deserialized: BTreeSet::new(),
        validating: validating(api),
        newtypes: recursive_aliases(api),
        gates: feature_gates(api),
        ..Facts::default()
    };
    (facts.serialized, facts.deserialized) = directions(api);
    let mut scan = |t: &Ty| {
        walk(t, &mut |x| match x {
            Ty::DateTime | Ty::Date => facts.uses_chrono = true,
            Ty::Uuid => facts.uses_uuid = true,
            _ => {}
        })
    };
    for td in &api.types {
        for t in type_children(td) {
            scan(t);
        }
    }
    for op in &api.operations {
        for p in &op.params {
            scan(&p.ty);
        }
        if let Some(b) = &op.body {
            scan(&b.ty);
        }
        for r in op.success.iter().chain(&op.errors) {
            scan(&r.ty);
        }
    }
    facts
}

/// The types an operation names directly: parameters, body, answers, stream events, page items.
pub(crate) fn operation_roots(op: &Operation) -> impl Iterator<Item = &Ty> {
    op.params
        .iter()
        .map(|p| &p.ty)
        .chain(op.body.iter().map(|b| &b.ty))
        .chain(op.success.iter().chain(&op.errors).map(|r| &r.ty))
        .chain(op.stream.iter().map(|s| &s.ty))
        .chain(op.pagination.iter().map(|p| &p.item))
}

/// For every named type, the sources (by index, ascending, each once) that reach it from their root
/// types, directly or through other named types. Sorted lists of 32-bit indices rather than sets:
/// callers read or compare a list whole, and a huge description's types are reached by millions of
/// (type, operation) pairs (Microsoft Graph beta's: 2.0 million). A source past `u32::MAX` (four
/// billion operations, more than memory could hold) reaches nothing.
pub(crate) fn reachability(api: &Api, sources: &[Vec<&Ty>]) -> Vec<Vec<u32>> {
    let n = api.types.len();
    // Each type's named children, found once rather than once per source.
    let children: Vec<Vec<usize>> = api
        .types
        .iter()
        .map(|td| {
            let mut out = Vec::new();
            for t in type_children(td) {
                walk(t, &mut |x| {
                    if let Ty::Named(c) = x {
                        out.push(c.0);
                    }
                });
            }
            out
        })
        .collect();
    // Sources are walked in order, so each type's list is sorted; `seen` holds the last source that
    // reached a type (a stamp, not a set per type).
    let mut reached: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut seen: Vec<usize> = vec![usize::MAX; n];
    let mut stack: Vec<usize> = Vec::new();
    for (si, roots) in sources.iter().enumerate() {
        let Ok(index) = u32::try_from(si) else {
            break;
        };
        for t in roots {
            walk(t, &mut |x| {
                if let Ty::Named(id) = x {
                    stack.push(id.0);
                }
            });
        }
        while let Some(id) = stack.pop() {
            if id >= n || seen[id] == si {
                continue;
            }
            seen[id] = si;
            reached[id].push(index);
            stack.extend(
                children[id]
                    .iter()
                    .copied()
                    .filter(|c| seen.get(*c) != Some(&si)),
            );
        }
    }
    for list in &mut reached {
        list.shrink_to_fit();
    }
    reached
}

/// The types each cargo feature needs, inverted: for every type, the features that reach it (see
/// [`Facts::gates`]). A type is reached by a group when one of its operations names it in a parameter,
/// body, answer or stream, directly or through other types; webhook payloads are reached by
/// `webhook_events`.
fn feature_gates(api: &Api) -> BTreeMap<TypeId, Vec<String>> {
    let mut features: Vec<(String, Vec<&Ty>)> = api
        .groups
        .iter()
        .map(|g| (g.module.clone(), Vec::new()))
        .collect();
    for op in &api.operations {
        features[op.group].1.extend(operation_roots(op));
    }
    if !api.webhooks.is_empty() {
        features.push((
            "webhook_events".to_owned(),
            api.webhooks.iter().map(|w| &w.ty).collect(),
        ));
    }
    let sources: Vec<Vec<&Ty>> = features.iter().map(|(_, roots)| roots.clone()).collect();
    let reached = reachability(api, &sources);
    let mut gates = BTreeMap::new();
    // No operation and no webhook: a models-only crate declares no features, so nothing is gated.
    if features.is_empty() {
        return gates;
    }
    for (i, r) in reached.iter().enumerate() {
        if r.len() == features.len() {
            continue;
        }
        let names = if r.is_empty() {
            vec!["all".to_owned()]
        } else {
            r.iter()
                .map(|fi| features[*fi as usize].0.clone())
                .collect()
        };
        gates.insert(TypeId(i), names);
    }
    gates
}

/// Every type expression directly inside a named type.
pub fn type_children(td: &TypeDef) -> Vec<&Ty> {
    match &td.kind {
        TypeKind::Struct(s) => s
            .fields
            .iter()
            .map(|f| &f.ty)
            .chain(s.additional.iter())
            .collect(),
        TypeKind::Union(u) => u.variants.iter().map(|v| &v.ty).collect(),
        TypeKind::Alias(t) => vec![t],
        TypeKind::Enum(_) => vec![],
    }
}

/// Visit `t` and everything inside it.
pub fn walk(t: &Ty, f: &mut dyn FnMut(&Ty)) {
    f(t);
    match t {
        Ty::Vec(i) | Ty::Map(i) | Ty::Option(i) | Ty::Box(i) => walk(i, f),
        _ => {}
    }
}

/// Named types reached without indirection through a heap collection (Vec/Map already are indirect).
fn direct_refs(t: &Ty, out: &mut Vec<TypeId>) {
    match t {
        Ty::Named(id) => out.push(*id),
        Ty::Option(i) => direct_refs(i, out),
        _ => {}
    }
}

/// Box the fields and variants that make a type contain itself by value (through aliases too).
fn box_recursion(api: &mut Api) {
    let n = api.types.len();
    let edges: Vec<Vec<TypeId>> = api
        .types
        .iter()
        .map(|td| {
            let mut out = Vec::new();
            for t in type_children(td) {
                direct_refs(t, &mut out);
            }
            out
        })
        .collect();
    let scc = tarjan(n, &edges);
    for (i, td) in api.types.iter_mut().enumerate() {
        let mine = scc[i];
        let boxed = |t: &mut Ty| box_in_scc(t, mine, &scc);
        match &mut td.kind {
            TypeKind::Struct(s) => s.fields.iter_mut().for_each(|f| boxed(&mut f.ty)),
            TypeKind::Union(u) => u.variants.iter_mut().for_each(|v| boxed(&mut v.ty)),
            TypeKind::Alias(t) => {
                // An alias cannot be boxed into itself meaningfully; break the cycle with a Box.
                boxed(t)
            }
            TypeKind::Enum(_) => {}
        }
    }
}

fn box_in_scc(t: &mut Ty, comp: usize, scc: &[usize]) {
    match t {
        Ty::Named(id) if scc[id.0] == comp => {
            let inner = std::mem::replace(t, Ty::Unit);
            *t = Ty::Box(Box::new(inner));
        }
        Ty::Option(i) => box_in_scc(i, comp, scc),
        _ => {}
    }
}

/// Strongly connected components (iterative Tarjan); a node alone without a self-loop gets a unique
/// component id that no other node shares, so it is never boxed.
fn tarjan(n: usize, edges: &[Vec<TypeId>]) -> Vec<usize> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comp = vec![usize::MAX; n];
    let mut next_index = 0;
    let mut next_comp = 0;
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(start, 0)];
        index[start] = next_index;
        low[start] = next_index;
        next_index += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei].0;
                *ei += 1;
                if w >= n {
                    continue;
                }
                if index[w] == usize::MAX {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut members = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        members.push(w);
                        if w == v {
                            break;
                        }
                    }
                    let self_loop = members.len() == 1 && edges[v].iter().any(|e| e.0 == v);
                    if members.len() > 1 || self_loop {
                        for m in members {
                            comp[m] = next_comp;
                        }
                    } else {
                        // Unique id outside the shared range.
                        comp[v] = usize::MAX - v;
                    }
                    next_comp += 1;
                }
            }
        }
    }
    comp
}

fn recursive_aliases(api: &Api) -> BTreeSet<TypeId> {
    let is_alias = |id: &TypeId| matches!(api.types[id.0].kind, TypeKind::Alias(_));
    let edges: Vec<Vec<TypeId>> = api
        .types
        .iter()
        .map(|td| match &td.kind {
            TypeKind::Alias(t) => named_in(t).into_iter().filter(is_alias).collect(),
            _ => Vec::new(),
        })
        .collect();
    let n = api.types.len();
    let scc = tarjan(n, &edges);
    // Members of a cycle share a component id below `n`; others got ids from the top of the range.
    (0..n).filter(|&i| scc[i] < n).map(TypeId).collect()
}

fn ty_defaultable(t: &Ty, ok: &BTreeSet<TypeId>) -> bool {
    match t {
        Ty::Named(id) => ok.contains(id),
        Ty::Box(i) => ty_defaultable(i, ok),
        _ => true,
    }
}

fn defaultable(api: &Api) -> BTreeSet<TypeId> {
    let mut ok = BTreeSet::new();
    loop {
        let before = ok.len();
        for (i, td) in api.types.iter().enumerate() {
            let yes = match &td.kind {
                TypeKind::Struct(s) => s.fields.iter().all(|f| ty_defaultable(&f.ty, &ok)),
                TypeKind::Alias(t) => ty_defaultable(t, &ok),
                _ => false,
            };
            if yes {
                ok.insert(TypeId(i));
            }
        }
        if ok.len() == before {
            return ok;
        }
    }
}

fn reach(api: &Api, roots: impl IntoIterator<Item = TypeId>) -> BTreeSet<TypeId> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<TypeId> = roots.into_iter().collect();
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for t in type_children(&api.types[id.0]) {
            walk(t, &mut |x| {
                if let Ty::Named(n) = x {
                    todo.push(*n);
                }
            });
        }
    }
    seen
}

fn named_in(t: &Ty) -> Vec<TypeId> {
    let mut out = Vec::new();
    walk(t, &mut |x| {
        if let Ty::Named(n) = x {
            out.push(*n);
        }
    });
    out
}

fn request_types(api: &Api) -> BTreeSet<TypeId> {
    let roots: Vec<TypeId> = api
        .operations
        .iter()
        .filter_map(|o| o.body.as_ref())
        .flat_map(|b| named_in(&b.ty))
        .collect();
    reach(api, roots)
}

/// Which types are sent and which are received ([`Facts::serialized`], [`Facts::deserialized`]): a
/// type only ever received needs no `Serialize`, which is most of a large API's types; every type
/// can be read (sent ones too, for requests built from JSON).
fn directions(api: &Api) -> (BTreeSet<TypeId>, BTreeSet<TypeId>) {
    let mut sent: Vec<TypeId> = Vec::new();
    let mut received: Vec<TypeId> = Vec::new();
    for op in &api.operations {
        for p in &op.params {
            sent.extend(named_in(&p.ty));
        }
        if let Some(b) = &op.body {
            sent.extend(named_in(&b.ty));
        }
        for r in op.success.iter().chain(&op.errors) {
            received.extend(named_in(&r.ty));
        }
        if let Some(s) = &op.stream {
            received.extend(named_in(&s.ty));
        }
        if let Some(p) = &op.pagination {
            received.extend(named_in(&p.item));
        }
    }
    for w in &api.webhooks {
        received.extend(named_in(&w.ty));
    }
    for s in &api.streams {
        received.extend(named_in(&s.item));
        received.push(s.item_struct);
    }
    let mut ser = reach(api, sent);
    // Sent types are read from JSON too: callers build requests from configuration or recorded
    // values, and conformance plans build every body from the description's examples.
    let mut de = reach(api, received);
    de.extend(ser.iter().copied());
    for i in 0..api.types.len() {
        let id = TypeId(i);
        if !ser.contains(&id) && !de.contains(&id) {
            ser.insert(id);
            de.insert(id);
        }
    }
    (ser, de)
}

/// What [`same_shapes`] first groups types by: their shape without docs and with references erased,
/// and whether they are sent; or the type alone, for those never merged.
#[derive(PartialEq, Eq, Hash)]
enum ShapeKey {
    Shape(TypeKind, bool),
    Alone(usize),
}

/// Type `i`'s [`ShapeKey`], and the types its shape refers to, in order.
fn shape_key(api: &Api, facts: &Facts, i: usize) -> (ShapeKey, Vec<TypeId>) {
    let td = &api.types[i];
    let id = TypeId(i);
    let mut r = Vec::new();
    let mut kind = td.kind.clone();
    erase_kind(&mut kind, &mut r);
    let eligible = !facts.newtypes.contains(&id)
        && !facts.xml.types.contains_key(&id)
        && !matches!(kind, TypeKind::Alias(_));
    if !eligible {
        return (ShapeKey::Alone(i), r);
    }
    (ShapeKey::Shape(kind, facts.request_types.contains(&id)), r)
}

/// `kind` without docs and with every referenced type erased; the references in `r`, in order.
fn erase_kind(kind: &mut TypeKind, r: &mut Vec<TypeId>) {
    match kind {
        TypeKind::Struct(st) => {
            for f in &mut st.fields {
                f.doc = None;
                erase(&mut f.ty, r);
            }
            if let Some(t) = &mut st.additional {
                erase(t, r);
            }
        }
        TypeKind::Union(u) => u.variants.iter_mut().for_each(|v| erase(&mut v.ty, r)),
        TypeKind::Alias(t) => erase(t, r),
        TypeKind::Enum(_) => {}
    }
}

/// `facts` with [`Facts::same_as`] filled: structs, unions and string enums equal in everything emission
/// writes except docs (fields, wire names, constraints, discriminators, variants, and the types they
/// refer to, compared the same way: the coarsest partition refinement), outside newtypes and XML types.
/// The first type of each shape stands for all of them: it is compiled under every feature any of them
/// is ([`Facts::gates`]) and derives what any of them needs ([`Facts::serialized`],
/// [`Facts::deserialized`]).
pub fn same_shapes(api: &Api, facts: &Facts) -> Facts {
    let n = api.types.len();
    let mut out = facts.clone();
    // The shape without docs and with every referenced type erased, and the references in order.
    // Types are grouped by the hash of that shape, each group holding one representative per
    // shape, whose shape is made again to compare: keeping every type's shape until all are seen
    // held a copy of the whole model (19 MB for Graph beta, while its document is still there).
    let hasher = foldhash::fast::RandomState::default();
    let mut groups: HashMap<u64, Vec<(usize, usize)>, foldhash::fast::RandomState> =
        HashMap::default();
    let mut classes = 0;
    let mut class: Vec<usize> = Vec::with_capacity(n);
    let mut refs: Vec<Vec<TypeId>> = Vec::with_capacity(n);
    for i in 0..n {
        let (key, r) = shape_key(api, facts, i);
        refs.push(r);
        let ShapeKey::Shape(..) = key else {
            class.push(classes);
            classes += 1;
            continue;
        };
        let group = groups
            .entry(std::hash::BuildHasher::hash_one(&hasher, &key))
            .or_default();
        let same = group
            .iter()
            .find(|&&(_, rep)| shape_key(api, facts, rep).0 == key)
            .map(|&(c, _)| c);
        class.push(same.unwrap_or_else(|| {
            group.push((classes, i));
            classes += 1;
            classes - 1
        }));
    }
    drop(groups);
    // Refine until the classes stop splitting: two types stay together only while the types they
    // refer to, position by position, are in the same classes.
    let mut count = classes;
    loop {
        let mut next_keys: BTreeMap<(usize, Vec<usize>), usize> = BTreeMap::new();
        let next: Vec<usize> = (0..n)
            .map(|i| {
                let key = (class[i], refs[i].iter().map(|r| class[r.0]).collect());
                let fresh = next_keys.len();
                *next_keys.entry(key).or_insert(fresh)
            })
            .collect();
        class = next;
        if next_keys.len() == count {
            break;
        }
        count = next_keys.len();
    }
    let mut first: BTreeMap<usize, TypeId> = BTreeMap::new();
    for (i, c) in class.iter().enumerate() {
        let id = TypeId(i);
        let Some(&canon) = first.get(c) else {
            first.insert(*c, id);
            continue;
        };
        out.same_as.insert(id, canon);
    }
    widen_gates(api, &out.same_as, &mut out.gates);
    close_over_shapes(api, &out.same_as, &mut out.serialized);
    close_over_shapes(api, &out.same_as, &mut out.deserialized);
    out
}

/// Gates widened until every compiled type's references are compiled under its features too: the
/// type standing for a shape under each of its members' features, and the types it names under its
/// own.
fn widen_gates(
    api: &Api,
    same_as: &BTreeMap<TypeId, TypeId>,
    gates: &mut BTreeMap<TypeId, Vec<String>>,
) {
    // Widen `to` by `from` (`None`: every feature); whether it changed.
    fn widen(
        gates: &mut BTreeMap<TypeId, Vec<String>>,
        to: TypeId,
        from: Option<&Vec<String>>,
    ) -> bool {
        let Some(mine) = gates.get_mut(&to) else {
            return false;
        };
        let Some(from) = from else {
            gates.remove(&to);
            return true;
        };
        let mut union = mine.clone();
        for f in from {
            if !union.contains(f) {
                union.push(f.clone());
            }
        }
        // `all` enables every feature: a list naming others besides it needs no `all`.
        if union.len() > 1 {
            union.retain(|f| f != "all");
        }
        if union.len() == mine.len() && union.iter().all(|f| mine.contains(f)) {
            return false;
        }
        union.sort();
        *mine = union;
        true
    }
    let mut changed = true;
    while changed {
        changed = false;
        for (i, td) in api.types.iter().enumerate() {
            let id = TypeId(i);
            let gate = gates.get(&id).cloned();
            if let Some(canon) = same_as.get(&id) {
                changed |= widen(gates, *canon, gate.as_ref());
                continue;
            }
            let mut named = Vec::new();
            for t in type_children(td) {
                named.extend(named_in(t));
            }
            for n in named {
                changed |= widen(gates, n, gate.as_ref());
            }
        }
    }
}

/// `set` with the type standing for each of its members added, and the types those refer to, so
/// a type that derives a trait only names types that do too.
fn close_over_shapes(api: &Api, same_as: &BTreeMap<TypeId, TypeId>, set: &mut BTreeSet<TypeId>) {
    let canon = |id: TypeId| *same_as.get(&id).unwrap_or(&id);
    let mut todo: Vec<TypeId> = set.iter().copied().collect();
    let mut done = BTreeSet::new();
    while let Some(id) = todo.pop() {
        let c = canon(id);
        if !done.insert(c) {
            continue;
        }
        set.insert(c);
        for t in type_children(&api.types[c.0]) {
            walk(t, &mut |x| {
                if let Ty::Named(n) = x {
                    todo.push(*n);
                }
            });
        }
    }
}

/// `t` with every named type replaced by one placeholder, the replaced ones appended to `out`.
fn erase(t: &mut Ty, out: &mut Vec<TypeId>) {
    match t {
        Ty::Named(id) => {
            out.push(*id);
            *id = TypeId(usize::MAX);
        }
        Ty::Vec(i) | Ty::Map(i) | Ty::Option(i) | Ty::Box(i) => erase(i, out),
        _ => {}
    }
}

fn validating(api: &Api) -> BTreeSet<TypeId> {
    let mut yes = BTreeSet::new();
    loop {
        let before = yes.len();
        for (i, td) in api.types.iter().enumerate() {
            let v = match &td.kind {
                TypeKind::Struct(s) => s.fields.iter().any(|f| {
                    has_checks(&f.constraints, &f.ty)
                        || named_in(&f.ty).iter().any(|n| yes.contains(n))
                }),
                _ => false,
            };
            if v {
                yes.insert(TypeId(i));
            }
        }
        if yes.len() == before {
            return yes;
        }
    }
}

/// Whether constraints apply to a value of this type (length to strings, range to numbers...).
pub fn has_checks(c: &Constraints, t: &Ty) -> bool {
    let base = strip(t);
    match base {
        Ty::String => c.min_length.is_some() || c.max_length.is_some() || c.pattern.is_some(),
        Ty::Int(_) | Ty::Float(_) => c.minimum.is_some() || c.maximum.is_some(),
        Ty::Vec(_) => c.min_items.is_some() || c.max_items.is_some(),
        _ => false,
    }
}

/// The type without Option/Box wrappers.
pub fn strip(t: &Ty) -> &Ty {
    match t {
        Ty::Option(i) | Ty::Box(i) => strip(i),
        t => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, kind: TypeKind) -> TypeDef {
        TypeDef {
            name: name.into(),
            doc: None,
            origin: String::new(),
            kind,
        }
    }
    fn field(ty: Ty) -> Field {
        Field {
            wire_name: "f".into(),
            name: "f".into(),
            ty,
            required: false,
            tri_state: false,
            doc: None,
            constraints: Checks::default(),
            format: None,
        }
    }

    #[test]
    fn boxes_only_by_value_cycles() {
        let mut api = Api::default();
        // 0: Node { next: Option<Node>, kids: Vec<Node> }; 1: Leaf { node: Option<Node> }
        api.types.push(named(
            "Node",
            TypeKind::Struct(Struct {
                fields: vec![
                    field(Ty::Option(Box::new(Ty::Named(TypeId(0))))),
                    field(Ty::Vec(Box::new(Ty::Named(TypeId(0))))),
                ],
                additional: None,
            }),
        ));
        api.types.push(named(
            "Leaf",
            TypeKind::Struct(Struct {
                fields: vec![field(Ty::Option(Box::new(Ty::Named(TypeId(0)))))],
                additional: None,
            }),
        ));
        box_recursion(&mut api);
        let TypeKind::Struct(s) = &api.types[0].kind else {
            panic!()
        };
        assert_eq!(
            s.fields[0].ty,
            Ty::Option(Box::new(Ty::Box(Box::new(Ty::Named(TypeId(0))))))
        );
        assert_eq!(s.fields[1].ty, Ty::Vec(Box::new(Ty::Named(TypeId(0)))));
        let TypeKind::Struct(l) = &api.types[1].kind else {
            panic!()
        };
        assert_eq!(
            l.fields[0].ty,
            Ty::Option(Box::new(Ty::Named(TypeId(0)))),
            "not part of the cycle"
        );
    }

    #[test]
    fn mutual_recursion_is_boxed_on_both_sides() {
        let mut api = Api::default();
        api.types.push(named(
            "A",
            TypeKind::Struct(Struct {
                fields: vec![field(Ty::Option(Box::new(Ty::Named(TypeId(1)))))],
                additional: None,
            }),
        ));
        api.types.push(named(
            "B",
            TypeKind::Struct(Struct {
                fields: vec![field(Ty::Option(Box::new(Ty::Named(TypeId(0)))))],
                additional: None,
            }),
        ));
        box_recursion(&mut api);
        for td in &api.types {
            let TypeKind::Struct(s) = &td.kind else {
                panic!()
            };
            assert!(matches!(&s.fields[0].ty, Ty::Option(i) if matches!(**i, Ty::Box(_))));
        }
    }

    /// Lowered and passed: the API of a small description, with its facts.
    fn lowered(spec: serde_json::Value) -> (Api, Facts) {
        let doc = crate::load::load_str(&spec.to_string(), None).expect("loads");
        let l = crate::lower_doc(&doc, &crate::Settings::default()).expect("lowers");
        (l.api, l.facts)
    }

    fn id_of(api: &Api, name: &str) -> TypeId {
        TypeId(
            api.types
                .iter()
                .position(|t| t.name == name)
                .unwrap_or_else(|| panic!("no type {name}")),
        )
    }

    #[test]
    fn types_derive_only_the_directions_they_travel() {
        let obj =
            |p: &str| serde_json::json!({"type": "object", "properties": {p: {"type": "string"}}});
        let (api, facts) = lowered(serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "T", "version": "1"},
            "paths": {"/x": {"post": {
                "operationId": "make",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Sent"}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Received"}}}}}
            }}},
            "components": {"schemas": {
                "Shared": obj("s"),
                "Sent": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/Shared"}}},
                "Received": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/Shared"}}},
                "Unused": obj("u")
            }}
        }));
        let dir = |n: &str| {
            let id = id_of(&api, n);
            (
                facts.serialized.contains(&id),
                facts.deserialized.contains(&id),
            )
        };
        assert_eq!(
            dir("Sent"),
            (true, true),
            "sent types are read from JSON too"
        );
        assert_eq!(dir("Received"), (false, true));
        assert_eq!(dir("Shared"), (true, true), "reached both ways");
        assert_eq!(
            dir("Unused"),
            (true, true),
            "nothing reaches it: kept whole"
        );
    }

    #[test]
    fn types_of_one_shape_are_emitted_once_under_all_their_features_and_directions() {
        let inner = |doc: &str| serde_json::json!({"type": "object", "description": doc, "properties": {"n": {"type": "integer"}}});
        let outer = |r: &str| serde_json::json!({"type": "object", "properties": {"in": {"$ref": format!("#/components/schemas/{r}")}}});
        let get = |tag: &str, id: &str, r: &str| {
            serde_json::json!({"get": {
                "operationId": id, "tags": [tag],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{r}")}}}}}
            }})
        };
        let (api, facts) = lowered(serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "T", "version": "1"},
            "tags": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "paths": {"/a": get("a", "getA", "OuterA"), "/b": get("b", "getB", "OuterB"), "/c": get("c", "getC", "OuterC")},
            "components": {"schemas": {
                "InnerA": inner("one"), "InnerB": inner("two"),
                "InnerC": {"type": "object", "properties": {"n": {"type": "string"}}},
                "OuterA": outer("InnerA"), "OuterB": outer("InnerB"), "OuterC": outer("InnerC")
            }}
        }));
        let merged = same_shapes(&api, &facts);
        let id = |n: &str| id_of(&api, n);
        let (first, later) = if id("OuterA") < id("OuterB") {
            ("OuterA", "OuterB")
        } else {
            ("OuterB", "OuterA")
        };
        assert_eq!(
            merged.same_as.get(&id(later)),
            Some(&id(first)),
            "same shape, docs aside"
        );
        assert!(
            merged.same_as.contains_key(&id("InnerA"))
                || merged.same_as.contains_key(&id("InnerB"))
        );
        for n in ["OuterC", "InnerC", first] {
            assert!(
                !merged.same_as.contains_key(&id(n)),
                "{n} stands for itself"
            );
        }
        let gate = merged.gates.get(&id(first)).expect("gated");
        assert!(
            gate.contains(&"a".to_owned()) && gate.contains(&"b".to_owned()),
            "{gate:?}"
        );
        assert!(merged.deserialized.contains(&id(first)));
    }
}
