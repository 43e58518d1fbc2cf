//! object_store's errors as the runtime's structured [`Error`]: NotFound for a missing object,
//! CONFLICT for a lost precondition (if-match, if-none-match, an existing copy target), AUTH_FAILED
//! for refused credentials, and, where the pipeline itself failed (network, server errors after
//! the retries, rate limits), the runtime's own error found in the source chain, with its request id.

use connector_runtime::{Error, ErrorCode, ErrorSource};

use crate::config::Provider;

/// The runtime error for a failed object_store call of `operation` on `key`.
pub fn from_store(
    error: object_store::Error,
    operation: &str,
    provider: Provider,
    key: &str,
) -> Error {
    use object_store::Error as E;
    let text = error.to_string();
    let (code, source) = match &error {
        E::NotFound { .. } => (ErrorCode::NotFound, ErrorSource::Transport),
        E::AlreadyExists { .. } | E::Precondition { .. } => {
            (ErrorCode::Conflict, ErrorSource::Transport)
        }
        E::NotModified { .. } => (ErrorCode::Conflict, ErrorSource::Transport),
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            (ErrorCode::AuthFailed, ErrorSource::Auth)
        }
        E::InvalidPath { .. } => (ErrorCode::ValidationError, ErrorSource::Unknown),
        E::NotSupported { .. } | E::NotImplemented { .. } => {
            (ErrorCode::Unsupported, ErrorSource::Unknown)
        }
        _ => match runtime_error(&error) {
            Some(inner) => {
                let mut e = inner.clone_shallow();
                e.set_message(format!(
                    "{provider} {operation} of `{key}` failed: {}",
                    inner.message()
                ));
                return e
                    .with_detail("provider", provider.as_str())
                    .with_detail("operation", operation)
                    .with_detail("key", key);
            }
            None => (classify_text(&text), ErrorSource::Transport),
        },
    };
    let mut e = Error::new(
        code,
        source,
        format!("{provider} {operation} of `{key}` failed: {text}"),
    )
    .with_detail("provider", provider.as_str())
    .with_detail("operation", operation)
    .with_detail("key", key);
    if let Some(inner) = runtime_error(&error) {
        e.set_request_id(inner.request_id().map(str::to_owned));
    }
    e.with_cause(error)
}

/// The runtime's error somewhere in `error`'s chain of sources.
fn runtime_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    let mut next: Option<&'a (dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<Error>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// A code for failures with neither a status object_store knows nor a runtime error: credentials
/// that could not be used (a malformed key) are auth failures; answers that could not be read are
/// parsing errors.
fn classify_text(text: &str) -> ErrorCode {
    let lower = text.to_ascii_lowercase();
    if lower.contains("credential")
        || lower.contains("private key")
        || lower.contains("access key")
        || lower.contains("token")
    {
        ErrorCode::AuthFailed
    } else if lower.contains("xml")
        || lower.contains("json")
        || lower.contains("decod")
        || lower.contains("pars")
    {
        ErrorCode::ParsingError
    } else {
        ErrorCode::InvalidRequest
    }
}

/// Copying the runtime error's code, status, message, retryability and request id (its cause and
/// typed body stay with the original, which is not clonable).
trait CloneShallow {
    fn clone_shallow(&self) -> Error;
}

impl CloneShallow for Error {
    fn clone_shallow(&self) -> Error {
        let mut e = Error::new(self.code(), self.source_kind(), self.message().to_owned())
            .with_retryable(self.is_retryable())
            .with_request_sent(self.request_sent());
        if let Some(status) = self.status() {
            e = e.with_status(status);
        }
        for (k, v) in self.details() {
            e = e.with_detail(k, v.clone());
        }
        e.set_request_id(self.request_id().map(str::to_owned));
        e
    }
}
