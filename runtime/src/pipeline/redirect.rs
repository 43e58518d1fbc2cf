//! Redirects, followed the same way whichever client carries the exchange (neither follows any
//! itself). The rules are reqwest's: 301 and 302 turn a POST into a GET without body, 303 turns any
//! method but HEAD into a GET without body, 307 and 308 resend method and body. A streamed body
//! cannot be resent, so its 307 or 308 is the answer, as is a redirect without a usable `Location`
//! (missing, not a URL, not http or https). More than `max_redirects` is an error.
//!
//! Two things on purpose beyond reqwest's: no `Referer` (the URL it would carry may hold a
//! query-string credential), and on a redirect to another origin (scheme, host or port) every
//! header the connector's redactor names is dropped with `Authorization`, `Cookie` and
//! `Proxy-Authorization`: an API key in `x-api-key`, or the auth strategy's own header, is not
//! handed to a server it was not meant for (a download's redirect to a storage host, say).

use std::future::Future;

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use http::{HeaderMap, Method, StatusCode};
use url::Url;

use crate::redact::Redactor;
use crate::transport::{Answer, Outgoing, TransportError};

/// What a redirect needs of the request it repeats.
pub(crate) struct Kept {
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    /// Whether the body can be sent again (it is not a stream).
    replayable: bool,
    /// Names the headers dropped on a redirect to another origin.
    redactor: Redactor,
}

impl Kept {
    /// What of `request` a redirect would repeat (its headers copied; the body's bytes shared).
    pub(crate) fn of(request: &Outgoing, redactor: &Redactor) -> Kept {
        Kept {
            method: request.method.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
            replayable: request.stream.is_none(),
            redactor: redactor.clone(),
        }
    }
}

/// Whether an answer's status is one of the redirects followed.
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The redirects from `answer` (to the request `kept` was made of, sent to `url`) followed, each
/// sent with `hop`, to the first answer that is not one to follow.
pub(crate) async fn follow<H, F>(
    mut answer: Answer,
    mut url: Url,
    mut kept: Kept,
    max_redirects: u32,
    hop: H,
) -> Result<Answer, TransportError>
where
    H: Fn(Method, &Url, HeaderMap, Bytes) -> Result<F, TransportError>,
    F: Future<Output = Result<Answer, TransportError>>,
{
    let mut hops = 0u32;
    loop {
        match answer.status {
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => {
                if kept.method == Method::POST {
                    kept.method = Method::GET;
                    without_payload(&mut kept);
                }
            }
            StatusCode::SEE_OTHER => {
                if kept.method != Method::HEAD {
                    kept.method = Method::GET;
                }
                without_payload(&mut kept);
            }
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => {}
            _ => return Ok(answer),
        }
        if !kept.replayable {
            return Ok(answer);
        }
        let next = answer
            .headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok())
            .filter(|n| matches!(n.scheme(), "http" | "https"));
        let Some(next) = next else {
            return Ok(answer);
        };
        if hops >= max_redirects {
            return Err(TransportError::TooManyRedirects(max_redirects));
        }
        hops += 1;
        if next.origin() != url.origin() {
            drop_credentials(&mut kept.headers, &kept.redactor);
        }
        // The redirect's own body is not read: dropping it closes (or frees) its connection.
        drop(answer);
        let sent = hop(
            kept.method.clone(),
            &next,
            kept.headers.clone(),
            kept.body.clone(),
        )?;
        answer = sent.await?;
        url = next;
    }
}

/// A redirect that turns the request into a GET drops its body and the headers that described it.
fn without_payload(kept: &mut Kept) {
    kept.body = Bytes::new();
    kept.replayable = true;
    for name in [
        CONTENT_TYPE,
        CONTENT_LENGTH,
        CONTENT_ENCODING,
        TRANSFER_ENCODING,
    ] {
        kept.headers.remove(name);
    }
}

/// The headers that carry credentials, taken off a request bound for another origin.
fn drop_credentials(headers: &mut HeaderMap, redactor: &Redactor) {
    let dropped: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| {
            *name == AUTHORIZATION
                || *name == COOKIE
                || *name == PROXY_AUTHORIZATION
                || *name == WWW_AUTHENTICATE
                || name.as_str() == "cookie2"
                || redactor.is_sensitive(name.as_str())
        })
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(name);
    }
}
