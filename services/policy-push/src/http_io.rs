//! The HTTP server's connections: the accept loop, the limit on how long a client may take to send
//! a request head, and the wrapping that makes the replies hyper writes by itself for requests it
//! cannot parse (a URI over 64 KiB, a header section too large, a malformed head) carry the
//! service's usual error body and headers instead of an empty body: hyper sends them before any
//! layer of the router runs, and its URI limit is fixed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the requests under way.
///
/// A connection whose request head is not complete `header_timeout` after hyper began reading
/// it is closed; that also ends kept-alive connections left idle that long. (`axum::serve` sets
/// no timer, so a client that never finishes its head would hold a connection for ever.)
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    wait_after_accept_error(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Replies are written whole, so Nagle's algorithm would only delay the last segment.
        stream.set_nodelay(true).ok();
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful.watch(http.serve_connection(
            TokioIo::new(ExplainedRefusals {
                stream,
                replacing: None,
            }),
            service,
        ));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection closed on an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A connection reset before it was accepted concerns only that client; anything else (running
/// out of file descriptors) is the server's, and a pause keeps the loop from spinning on it.
async fn wait_after_accept_error(error: &io::Error) {
    let client_side = matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    );
    if !client_side {
        tracing::warn!(%error, "cannot accept connections; retrying in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A connection that swaps hyper's bare refusal for [`api::replace_bare_refusal`]'s reply.
pub struct ExplainedRefusals {
    stream: TcpStream,
    replacing: Option<Replacement>,
}

/// A reply being written in place of `stands_for` bytes hyper asked to write.
struct Replacement {
    reply: Vec<u8>,
    sent: usize,
    stands_for: usize,
}

impl ExplainedRefusals {
    fn poll_replace(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        if self.replacing.is_none() {
            let reply = api::replace_bare_refusal(buf)?;
            self.replacing = Some(Replacement {
                reply,
                sent: 0,
                stands_for: buf.len(),
            });
        }
        let replacement = self.replacing.as_mut()?;
        while replacement.sent < replacement.reply.len() {
            let written = match Pin::new(&mut self.stream)
                .poll_write(cx, &replacement.reply[replacement.sent..])
            {
                Poll::Ready(Ok(0)) => {
                    return Some(Poll::Ready(Err(io::ErrorKind::WriteZero.into())));
                }
                Poll::Ready(Ok(written)) => written,
                Poll::Ready(Err(error)) => return Some(Poll::Ready(Err(error))),
                Poll::Pending => return Some(Poll::Pending),
            };
            replacement.sent += written;
        }
        let stands_for = replacement.stands_for;
        self.replacing = None;
        Some(Poll::Ready(Ok(stands_for)))
    }
}

impl AsyncRead for ExplainedRefusals {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ExplainedRefusals {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(poll) = this.poll_replace(cx, buf) {
            return poll;
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // hyper writes a head as one slice, so a refusal is always the first.
        if let Some(first) = bufs.iter().find(|buf| !buf.is_empty())
            && let Some(poll) = this.poll_replace(cx, first)
        {
            return poll;
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
