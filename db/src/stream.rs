//! [`RowStream`]: a large result read row by row with bounded memory.
//!
//! A task owns the connection and reads rows ahead of the consumer into a channel of about
//! `stream_buffer_rows` rows (in batches, one wake-up each). When the channel is full the task
//! waits, stops reading the socket
//! (or, on SQLite, the worker stops stepping the statement), and the server blocks: memory stays
//! at the buffer whatever the result's size. Dropping the stream before its end stops the
//! statement (PostgreSQL: `pg_cancel_backend`; SQLite: an interrupt) and gives the connection back.

use std::pin::Pin;
use std::task::{Context, Poll};

use connector_runtime::Error;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::exec::{BATCH_ROWS, Batch, QueryOptions};
use crate::observe::Timer;
use crate::pool::Lease;
use crate::row::Row;
use crate::value::Value;

/// Rows of one query as they arrive. An error ends the stream (it is its last item).
pub struct RowStream {
    rx: mpsc::Receiver<Batch>,
    pending: std::vec::IntoIter<Row>,
}

impl RowStream {
    pub(crate) fn spawn(
        mut lease: Lease,
        sql: String,
        params: Vec<Value>,
        opts: QueryOptions,
        span: tracing::Span,
        timer: Timer,
    ) -> RowStream {
        // About `stream_buffer_rows` rows ahead: that many in batches of up to BATCH_ROWS.
        let buffer = lease.shared.config.stream_buffer_rows.max(1);
        let batch_rows = BATCH_ROWS.min(buffer);
        let (tx, rx) = mpsc::channel(buffer.div_ceil(batch_rows));
        let work = async move {
            let result = lease
                .stream_into(&sql, &params, &opts, &tx, batch_rows)
                .await;
            match result {
                Ok(n) => timer.ok(n, false),
                Err(e) => {
                    timer.failed(&e);
                    let _ = tx.send(Err(e)).await;
                }
            }
            // The lease is dropped here: back to the pool, or cancelled first if the consumer left
            // before the end.
            drop(lease);
        };
        tokio::spawn(work.instrument(span));
        RowStream {
            rx,
            pending: Vec::new().into_iter(),
        }
    }

    /// The next row, or None at the end.
    pub async fn next_row(&mut self) -> Option<Result<Row, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The rows as `T` (see [`Row::deserialize`]).
    pub fn typed<T: DeserializeOwned>(self) -> impl Stream<Item = Result<T, Error>> + Send + Unpin {
        self.map(|r| r.and_then(|row| row.deserialize::<T>()))
    }
}

impl Stream for RowStream {
    type Item = Result<Row, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(row) = self.pending.next() {
                return Poll::Ready(Some(Ok(row)));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => self.pending = batch.into_iter(),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl std::fmt::Debug for RowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream").finish_non_exhaustive()
    }
}
