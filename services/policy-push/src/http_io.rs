//! The server's connections, wrapped so that the replies hyper writes by itself for requests it
//! cannot parse (a URI over 64 KiB, a header section too large, a malformed head) carry the
//! service's usual error body and headers instead of an empty body: hyper sends them before any
//! layer of the router runs, and its URI limit is fixed.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections are [`ExplainedRefusals`].
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = ExplainedRefusals;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, peer) = axum::serve::Listener::accept(&mut self.0).await;
        (
            ExplainedRefusals {
                stream,
                replacing: None,
            },
            peer,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
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
