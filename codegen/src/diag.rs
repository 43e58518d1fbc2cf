//! Diagnostics: what went wrong or was skipped, where (file, JSON pointer, line), and what to do.

use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Something was skipped or approximated; the crate is still generated.
    Warning,
    /// Generation cannot continue.
    Error,
}

/// One finding about the input description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The file it is in, when known.
    pub file: Option<PathBuf>,
    /// JSON pointer to the offending node (`/paths/~1users/get`), when known.
    pub pointer: Option<String>,
    /// 1-based line (and column) in `file`, when the parser reported one.
    pub line: Option<(usize, usize)>,
    /// What the user can do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a message.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            pointer: None,
            line: None,
            help: None,
        }
    }
    /// A warning with a message.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }
    /// Builder: the JSON pointer (`/paths/~1users`; a leading `#` is dropped, so both spellings work).
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        let p = pointer.into();
        self.pointer = Some(p.strip_prefix('#').map(str::to_owned).unwrap_or(p));
        self
    }
    /// Builder: the file.
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }
    /// Builder: line and column.
    pub fn line(mut self, line: usize, column: usize) -> Self {
        self.line = Some((line, column));
        self
    }
    /// Builder: advice.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{sev}: {}", self.message)?;
        let mut loc = Vec::new();
        if let Some(file) = &self.file {
            let mut s = file.display().to_string();
            if let Some((l, c)) = self.line {
                s.push_str(&format!(":{l}:{c}"));
            }
            loc.push(s);
        } else if let Some((l, c)) = self.line {
            loc.push(format!("line {l}, column {c}"));
        }
        if let Some(p) = &self.pointer {
            loc.push(format!("at #{p}"));
        }
        if !loc.is_empty() {
            write!(f, "\n  --> {}", loc.join(" "))?;
        }
        if let Some(h) = &self.help {
            write!(f, "\n  = help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
