//! Items as data, written straight to formatted text where their layout is known.
//!
//! Most of a large crate is the same few shapes: setters, `options()`, `build()` with its
//! `op.path(..)`/`op.query(..)` calls, the group's constructors, builder and header structs, the
//! `__struct_de!`/`__string_enum!` inputs of the models, the sync catalog's column lists. Quoting
//! them, parsing the tokens with syn and printing them with prettyplease was most of the time to
//! render GitHub's crate. Here an item is plain data ([`Method`], [`Stmt`], [`Expr`], [`Fill`])
//! that is written two ways:
//!
//! - as **text**, formatted the way prettyplease formats it: a group (call arguments, parameters,
//!   an array) stays on one line when the whole line fits in [`MARGIN`] columns, else puts each item
//!   on a line of its own, one level in, with a trailing comma; `match` arms, `if let` bodies and
//!   struct literals are always broken; a macro's input fills each line with words ([`Fill`]).
//!   Where a line would not fit in these layouts (a long argument that prettyplease would break
//!   further inside), there is no text and the item is tokens;
//! - as **tokens**, lexed from the one-line form (for the attribute macro, and for an item with no
//!   text layout).
//!
//! [`super::render`] holds the text back behind a placeholder item, as it holds docs, and puts it in
//! after formatting. The output is byte-identical to formatting the tokens: the test
//! `direct_text` in `codegen/tests` generates every fixture and several vendor descriptions both
//! ways and compares, and `emit`'s unit tests compare macro inputs of every length around the margin.

use proc_macro2::TokenStream;

/// The line width prettyplease fills: a group whose line fits stays on that line.
pub(super) const MARGIN: usize = 89;

/// One level of indentation.
pub(super) const INDENT: usize = 4;

/// An expression: text that never breaks, or a delimited group of expressions.
#[derive(Clone)]
pub(super) enum Expr {
    /// Printed as it is, on one line.
    Atom(String),
    /// `open`, the items separated by `, `, `close`: on one line when it fits, else each item on a
    /// line of its own one level in, ending in a comma (calls, arrays; `open` is `f(` or `&[`).
    Group {
        open: String,
        items: Vec<Expr>,
        close: &'static str,
    },
    /// A method chain: `receiver`, then each call (a group opened by `.name(`): on one line when it
    /// fits, else the receiver alone and each call on a line of its own, one level in (prettyplease
    /// breaks a chain's dots together). A receiver of [`INDENT`] or fewer characters has another
    /// layout there (its first call stays beside it), so it has none here.
    Chain { receiver: String, calls: Vec<Expr> },
}

impl Expr {
    /// A call or array of atoms.
    pub(super) fn call(open: impl Into<String>, items: Vec<Expr>) -> Expr {
        Expr::Group {
            open: open.into(),
            items,
            close: ")",
        }
    }

    /// `&[items]`.
    pub(super) fn slice(items: Vec<Expr>) -> Expr {
        Expr::Group {
            open: "&[".to_owned(),
            items,
            close: "]",
        }
    }

    /// The one-line form.
    pub(super) fn flat(&self, out: &mut String) {
        match self {
            Expr::Atom(a) => out.push_str(a),
            Expr::Group { open, items, close } => {
                out.push_str(open);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.flat(out);
                }
                out.push_str(close);
            }
            Expr::Chain { receiver, calls } => {
                out.push_str(receiver);
                for call in calls {
                    call.flat(out);
                }
            }
        }
    }

    fn flat_len(&self) -> usize {
        match self {
            Expr::Atom(a) => a.len(),
            Expr::Group { open, items, close } => {
                open.len()
                    + close.len()
                    + items.iter().map(Expr::flat_len).sum::<usize>()
                    + 2 * items.len().saturating_sub(1)
            }
            Expr::Chain { receiver, calls } => {
                receiver.len() + calls.iter().map(Expr::flat_len).sum::<usize>()
            }
        }
    }

    /// Write the expression starting at column `col` of a line indented `indent`, followed by
    /// `after` columns of text before the line may break; `None` when some line cannot fit.
    fn layout(&self, indent: usize, col: usize, after: usize, out: &mut String) -> Option<()> {
        if col + self.flat_len() + after <= MARGIN {
            self.flat(out);
            return Some(());
        }
        let (open, items, close) = match self {
            Expr::Group { open, items, close } => (open, items, close),
            Expr::Chain { receiver, calls } => {
                if receiver.len() <= INDENT || col + receiver.len() > MARGIN {
                    return None;
                }
                out.push_str(receiver);
                let inner = indent + INDENT;
                for (i, call) in calls.iter().enumerate() {
                    out.push('\n');
                    push_indent(out, inner);
                    // The next call's break follows this one's `)` at once.
                    let last = i + 1 == calls.len();
                    call.layout(inner, inner, if last { after } else { 0 }, out)?;
                }
                return Some(());
            }
            Expr::Atom(_) => return None,
        };
        if items.is_empty() || col + open.len() > MARGIN || indent + close.len() + after > MARGIN {
            return None;
        }
        out.push_str(open);
        out.push('\n');
        let inner = indent + INDENT;
        for (i, item) in items.iter().enumerate() {
            push_indent(out, inner);
            // The comma after the last item is written only when the group breaks, and is not
            // counted when the formatter decides whether the item fits.
            let comma = usize::from(i + 1 < items.len());
            item.layout(inner, inner, comma, out)?;
            out.push_str(",\n");
        }
        push_indent(out, indent);
        out.push_str(close);
        Some(())
    }
}

/// A statement (or a line inside a `match`, or a field of a struct literal).
pub(super) enum Stmt {
    /// `lead`, the expression, `tail`: `let mut op = rt::Op::new(..);`, `op.query(..);`,
    /// `404u16 => rt::error_body::<T>(status, body),`.
    Expr {
        lead: String,
        expr: Expr,
        tail: &'static str,
    },
    /// `head {`, the inner statements one level in, then `}` and `tail`, always on lines of their
    /// own: an `if let`, a `match` (its arms as statements), a struct literal wider than
    /// prettyplease keeps on one line (its fields as statements).
    Block {
        head: String,
        inner: Vec<Stmt>,
        tail: &'static str,
    },
    /// `head` (ending in its opening bracket, `params: &[`), the inner lines one level in, then
    /// `close` and `tail`, always on lines of their own: an array of struct literals.
    Bracketed {
        head: String,
        inner: Vec<Stmt>,
        close: &'static str,
        tail: &'static str,
    },
    /// `lead { expr }` and `tail` on one line when it fits, else `lead {` on its line, the
    /// expression one level in (laid out there), then `}` and `tail` on a line of their own: a
    /// block of one expression, as `columns: const { &[..] },`. The tail counts towards the fit,
    /// as a field's comma does when another field follows (a literal's last comma would not).
    Braced {
        lead: String,
        expr: Expr,
        tail: &'static str,
    },
    /// A statement with no layout here.
    Tokens(TokenStream),
}

impl Stmt {
    /// A statement of one atom: `op.apply(self.options);`.
    pub(super) fn line(text: impl Into<String>) -> Stmt {
        Stmt::Expr {
            lead: String::new(),
            expr: Expr::Atom(text.into()),
            tail: "",
        }
    }

    /// `expr;`.
    pub(super) fn semi(expr: Expr) -> Stmt {
        Stmt::Expr {
            lead: String::new(),
            expr,
            tail: ";",
        }
    }

    /// The one-line form; `None` for tokens.
    fn flat(&self, out: &mut String) -> Option<()> {
        match self {
            Stmt::Expr { lead, expr, tail } => {
                out.push_str(lead);
                expr.flat(out);
                out.push_str(tail);
            }
            Stmt::Block { head, inner, tail } => {
                flat_bracketed(out, [head, " {"], inner, "}", tail)?;
            }
            Stmt::Bracketed {
                head,
                inner,
                close,
                tail,
            } => flat_bracketed(out, [head, ""], inner, close, tail)?,
            Stmt::Braced { lead, expr, tail } => {
                out.push_str(lead);
                out.push_str(" { ");
                expr.flat(out);
                out.push_str(" }");
                out.push_str(tail);
            }
            Stmt::Tokens(_) => return None,
        }
        Some(())
    }

    /// The statement's lines at `indent`.
    pub(super) fn text(&self, indent: usize, out: &mut String) -> Option<()> {
        match self {
            Stmt::Expr { lead, expr, tail } => {
                push_indent(out, indent);
                out.push_str(lead);
                expr.layout(indent, indent + lead.len(), tail.len(), out)?;
                out.push_str(tail);
                out.push('\n');
            }
            Stmt::Block { head, inner, tail } => {
                text_bracketed(out, indent, [head, " {"], inner, "}", tail)?;
            }
            Stmt::Bracketed {
                head,
                inner,
                close,
                tail,
            } => text_bracketed(out, indent, [head, ""], inner, close, tail)?,
            Stmt::Braced { lead, expr, tail } => {
                let flat = lead.len() + " {  }".len() + expr.flat_len() + tail.len();
                if indent + flat <= MARGIN {
                    push_indent(out, indent);
                    self.flat(out)?;
                    out.push('\n');
                } else {
                    if indent + lead.len() + " {".len() > MARGIN {
                        return None;
                    }
                    push_indent(out, indent);
                    out.push_str(lead);
                    out.push_str(" {\n");
                    let inner = indent + INDENT;
                    push_indent(out, inner);
                    expr.layout(inner, inner, 0, out)?;
                    out.push('\n');
                    push_indent(out, indent);
                    out.push('}');
                    out.push_str(tail);
                    out.push('\n');
                }
            }
            Stmt::Tokens(_) => return None,
        }
        Some(())
    }

    /// The one-line form as text; `None` for tokens.
    pub(super) fn flat_text(&self) -> Option<String> {
        let mut out = String::new();
        self.flat(&mut out)?;
        Some(out)
    }

    /// The statement's tokens.
    pub(super) fn tokens(&self) -> TokenStream {
        match self {
            Stmt::Tokens(t) => t.clone(),
            s => {
                let mut flat = String::new();
                s.flat(&mut flat);
                lex(&flat)
            }
        }
    }
}

/// The one-line form of a [`Stmt::Block`] or [`Stmt::Bracketed`]: the head (its parts joined),
/// each inner statement after a space, then ` close` and the tail.
fn flat_bracketed(
    out: &mut String,
    head: [&str; 2],
    inner: &[Stmt],
    close: &str,
    tail: &str,
) -> Option<()> {
    out.push_str(head[0]);
    out.push_str(head[1]);
    for s in inner {
        out.push(' ');
        s.flat(out)?;
    }
    out.push(' ');
    out.push_str(close);
    out.push_str(tail);
    Some(())
}

/// The lines of a [`Stmt::Block`] or [`Stmt::Bracketed`] at `indent`: the head (its parts
/// joined, ending in the opening bracket) on a line that must fit, the inner statements one level
/// in, then `close` and the tail on a line of their own.
fn text_bracketed(
    out: &mut String,
    indent: usize,
    head: [&str; 2],
    inner: &[Stmt],
    close: &str,
    tail: &str,
) -> Option<()> {
    if indent + head[0].len() + head[1].len() > MARGIN {
        return None;
    }
    push_indent(out, indent);
    out.push_str(head[0]);
    out.push_str(head[1]);
    out.push('\n');
    for s in inner {
        s.text(indent + INDENT, out)?;
    }
    push_indent(out, indent);
    out.push_str(close);
    out.push_str(tail);
    out.push('\n');
    Some(())
}

/// `Ok(chain)`, a function's last expression (no `;`).
pub(super) fn ok_chain(chain: Expr) -> Stmt {
    Stmt::Expr {
        lead: String::new(),
        expr: Expr::call("Ok(", vec![chain]),
        tail: "",
    }
}

/// A method's docs.
pub(super) enum Doc {
    None,
    /// Text from the description (or written here), through `doc_attr`: held back, `///` lines.
    Described(String),
    /// One `#[doc = line]` per line, as written (each line starts with its space).
    Lines(Vec<String>),
}

/// A method: docs, attributes, signature and body.
pub(super) struct Method {
    pub doc: Doc,
    /// Outer attributes other than docs, each on a line: `#[deprecated = ".."]`.
    pub attrs: Vec<String>,
    /// The signature up to its parameters: `pub fn name(`.
    pub head: String,
    /// The parameters: `&self`, `value: impl Into<String>`.
    pub params: Vec<Expr>,
    /// After the parameters' `)`: ` -> Self` (the ` {` is added); a group breaks on the line of
    /// the `)` when the parameters have broken.
    pub ret: Expr,
    pub body: Vec<Stmt>,
}

impl Method {
    /// The method's lines at `indent`, its docs written out, or `None` when some part has no
    /// layout here. `doc` is the described doc's text as `doc_attr` would hold it.
    pub(super) fn text(&self, indent: usize, doc: Option<&str>) -> Option<String> {
        let mut out = String::new();
        match (&self.doc, doc) {
            (Doc::Described(_), Some(d)) => push_doc_lines(&mut out, indent, d),
            (Doc::Lines(lines), _) => {
                for l in lines {
                    // prettyplease writes a line-doc so; others differently.
                    if l.contains('\n') || l.starts_with('/') {
                        return None;
                    }
                    push_indent(&mut out, indent);
                    out.push_str("///");
                    out.push_str(l.trim_end_matches(' '));
                    out.push('\n');
                }
            }
            _ => {}
        }
        for a in &self.attrs {
            if indent + a.len() > MARGIN {
                return None;
            }
            push_indent(&mut out, indent);
            out.push_str(a);
            out.push('\n');
        }
        // The signature: on one line when it fits; else each parameter on a line, and the
        // return type after the `)`, itself broken when that line does not fit.
        push_indent(&mut out, indent);
        let flat = self.head.len()
            + self.params.iter().map(Expr::flat_len).sum::<usize>()
            + 2 * self.params.len().saturating_sub(1)
            + 1
            + self.ret.flat_len()
            + 2;
        if indent + flat <= MARGIN {
            self.signature_flat(&mut out);
        } else {
            if self.params.is_empty() || indent + self.head.len() > MARGIN {
                return None;
            }
            out.push_str(&self.head);
            out.push('\n');
            let inner = indent + INDENT;
            for (i, p) in self.params.iter().enumerate() {
                push_indent(&mut out, inner);
                let comma = usize::from(i + 1 < self.params.len());
                p.layout(inner, inner, comma, &mut out)?;
                out.push_str(",\n");
            }
            push_indent(&mut out, indent);
            out.push(')');
            self.ret.layout(indent, indent + 1, 2, &mut out)?;
        }
        out.push_str(" {\n");
        for s in &self.body {
            s.text(indent + INDENT, &mut out)?;
        }
        push_indent(&mut out, indent);
        out.push_str("}\n");
        Some(out)
    }

    fn signature_flat(&self, out: &mut String) {
        out.push_str(&self.head);
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            p.flat(out);
        }
        out.push(')');
        self.ret.flat(out);
    }

    /// The signature's tokens (without docs and attributes).
    pub(super) fn signature_tokens(&self) -> TokenStream {
        let mut flat = String::new();
        self.signature_flat(&mut flat);
        lex(&flat)
    }

    /// The attributes' tokens (without docs).
    pub(super) fn attr_tokens(&self) -> TokenStream {
        lex(&self.attrs.concat())
    }
}

/// The input of a brace macro (`path! { .. }`) as prettyplease prints tokens it does not parse:
/// words on a line one level in, each after a space (or, before `..`, no space) where the line may
/// break; a line takes words while the next one fits in [`MARGIN`] columns, then the next line
/// starts at the same indentation. (prettyplease puts the words in one inconsistent box, whose
/// breaks are taken only where the text up to the next break does not fit.) Which tokens are
/// joined and which get a space is the caller's part: it follows prettyplease's spacing of macro
/// tokens for the few shapes `emit` writes.
#[derive(Default)]
pub(super) struct Fill {
    /// Each chunk: the columns of the break before it (a space is 1), then the text up to the next
    /// break. The first chunk's break is never taken.
    chunks: Vec<(usize, String)>,
}

impl Fill {
    /// Text joined to the last word, with no break before it.
    pub(super) fn glue(&mut self, text: &str) {
        match self.chunks.last_mut() {
            Some((_, chunk)) => chunk.push_str(text),
            None => self.chunks.push((0, text.to_owned())),
        }
    }

    /// A word after a space where the line may break.
    pub(super) fn space(&mut self, word: &str) {
        self.brk(1, word);
    }

    /// A word after a place where the line may break but, on one line, no space is written.
    pub(super) fn zero(&mut self, word: &str) {
        self.brk(0, word);
    }

    fn brk(&mut self, blank: usize, word: &str) {
        if self.chunks.is_empty() {
            return self.glue(word);
        }
        self.chunks.push((blank, word.to_owned()));
    }

    /// `path! {`, the words from one level in, and `}` on a line of its own, the item at `indent`.
    pub(super) fn brace_macro(&self, path: &str, indent: usize, out: &mut String) {
        push_indent(out, indent);
        out.push_str(path);
        out.push_str("! {");
        if self.chunks.is_empty() {
            out.push_str("}\n");
            return;
        }
        out.push('\n');
        let inner = indent + INDENT;
        // A line's room, as the formatter counts it: never under 60 columns, however deep.
        let room = MARGIN.saturating_sub(inner).max(60);
        push_indent(out, inner);
        let mut used = 0;
        for (i, (blank, chunk)) in self.chunks.iter().enumerate() {
            if i > 0 {
                if used + blank + chunk.len() <= room {
                    out.extend(std::iter::repeat_n(' ', *blank));
                    used += blank;
                } else {
                    out.push('\n');
                    push_indent(out, inner);
                    used = 0;
                }
            }
            out.push_str(chunk);
            used += chunk.len();
        }
        out.push('\n');
        push_indent(out, indent);
        out.push_str("}\n");
    }
}

/// `indent` spaces.
pub(super) fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A doc's `///` lines at `indent`, as prettyplease writes a doc attribute: a space before the text,
/// trailing spaces trimmed.
pub(super) fn push_doc_lines(out: &mut String, indent: usize, doc: &str) {
    for l in doc.lines() {
        push_indent(out, indent);
        out.push_str("///");
        if !l.trim_end_matches(' ').is_empty() {
            out.push(' ');
            out.push_str(l.trim_end_matches(' '));
        }
        out.push('\n');
    }
}

/// Tokens of Rust text this module wrote; a `compile_error!` naming the text if it does not lex
/// (a bug here, reported where the code would have been).
pub(super) fn lex(text: &str) -> TokenStream {
    text.parse().unwrap_or_else(|_| {
        let msg = format!("internal: connector-gen wrote text that does not lex: {text}");
        quote::quote!(compile_error!(#msg);)
    })
}

/// A string literal as Rust writes it (`"a\"b"`), escaped as the tokens would be.
pub(super) fn str_lit(s: &str) -> String {
    // Printable ASCII other than `"` and `\` stands for itself (what `char::escape_debug`, which
    // proc-macro2 escapes with, leaves alone); proc-macro2 escapes a character at a time, about
    // 25 instructions each, for the tens of thousands of literals a large crate holds.
    if s.bytes()
        .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return out;
    }
    proc_macro2::Literal::string(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fn f() -> T { <stmts> }` as prettyplease formats its tokens, and as [`Stmt::text`] writes
    /// the statements (`None` when some line has no layout here).
    fn both_ways(stmts: &[Stmt]) -> (String, Option<String>) {
        let mut flat = String::new();
        let mut body = String::new();
        let mut direct = Some(());
        for s in stmts {
            flat.push_str(&s.flat_text().expect("a statement with text"));
            flat.push(' ');
            direct = direct.and_then(|()| s.text(INDENT, &mut body));
        }
        let file: syn::File =
            syn::parse_str(&format!("fn f() -> T {{ {flat} }}")).expect("the one-line form parses");
        let direct = direct.map(|()| format!("fn f() -> T {{\n{body}}}\n"));
        (prettyplease::unparse(&file), direct)
    }

    #[test]
    fn chains_are_written_as_prettyplease_prints_them() {
        // `Ok(client.<accessors>().<operation>(<arguments>).build_pages(..))`, as a sync catalog's
        // `fetch_<table>` ends, with names and arguments of every length around the margin.
        let mut written = 0;
        for accessors in 0..3 {
            for name_len in [1, 10, 20, 30, 40, 50, 60] {
                for args in 0..4 {
                    for arg_len in [1, 8, 20, 40] {
                        let mut calls: Vec<Expr> = (0..accessors)
                            .map(|i| Expr::call(format!(".group_{i}("), Vec::new()))
                            .collect();
                        calls.push(Expr::call(
                            format!(".{}(", "o".repeat(name_len)),
                            (0..args)
                                .map(|i| {
                                    Expr::Atom(format!(
                                        "args.get::<String>(\"{}{i}\")?",
                                        "w".repeat(arg_len)
                                    ))
                                })
                                .collect(),
                        ));
                        calls.push(Expr::call(
                            ".build_pages(",
                            vec![Expr::Atom("|options| args.configure(options)".to_owned())],
                        ));
                        let (formatted, direct) = both_ways(&[ok_chain(Expr::Chain {
                            receiver: "client".to_owned(),
                            calls,
                        })]);
                        if let Some(direct) = direct {
                            assert_eq!(direct, formatted);
                            written += 1;
                        }
                    }
                }
            }
        }
        // Every case has a layout here: none is too long for its lines.
        assert_eq!(written, 3 * 7 * 4 * 4);
    }

    #[test]
    fn braced_blocks_are_written_as_prettyplease_prints_them() {
        // A struct literal's `columns: const { &[..] },` (followed by another field), with lists of
        // every length around the margin: on one line, broken around the array, and with the
        // array broken too.
        let mut written = 0;
        for items in 0..6 {
            for item_len in [1, 5, 10, 20, 40, 70] {
                let list: Vec<Expr> = (0..items)
                    .map(|i| {
                        Expr::call(
                            "Column::required(",
                            vec![
                                Expr::Atom(format!("\"{}{i}\"", "c".repeat(item_len))),
                                Expr::Atom("ColumnKind::Text".to_owned()),
                            ],
                        )
                    })
                    .collect();
                let literal = Stmt::Block {
                    head: "StreamDef".to_owned(),
                    inner: vec![
                        Stmt::line(format!("name: \"{}\",", "n".repeat(70))),
                        Stmt::Braced {
                            lead: "columns: const".to_owned(),
                            expr: Expr::slice(list),
                            tail: ",",
                        },
                        // Not the last field, as in a `StreamDef`: its comma is written (and
                        // counted) whether the literal breaks or not.
                        Stmt::line("params: &[],"),
                    ],
                    tail: "",
                };
                let (formatted, direct) = both_ways(&[literal]);
                if let Some(direct) = direct {
                    assert_eq!(direct, formatted);
                    written += 1;
                } else {
                    // Only a column too long for its own line (prettyplease would break inside
                    // the call) has no layout here.
                    assert!(item_len == 70 && items > 0, "{items} items of {item_len}");
                }
            }
        }
        assert_eq!(written, 6 * 6 - 5);
    }

    #[test]
    fn string_literals_are_what_proc_macro2_writes() {
        // Every ASCII character alone and between letters, and some beyond ASCII.
        let mut cases: Vec<String> = (0u8..=127)
            .map(|b| char::from(b).to_string())
            .chain((0u8..=127).map(|b| format!("a{}b", char::from(b))))
            .collect();
        cases.extend(
            [
                "",
                "plain text",
                "é",
                "\u{301}x",
                "x\u{301}",
                "\u{200b}",
                "tab\there",
                "\0",
                "\u{0}7",
                "'",
            ]
            .map(str::to_owned),
        );
        for s in cases {
            assert_eq!(
                str_lit(&s),
                proc_macro2::Literal::string(&s).to_string(),
                "{s:?}"
            );
        }
    }
}
