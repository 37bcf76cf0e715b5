//! TCP for the fake API: listeners with a deep accept queue, and a connection that carries a
//! value for as long as it lives (a handle to cut the connection). The server has its own copy:
//! the fake shares no code with the product it stands in front of.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The accept queue of every listener. std and tokio ask for 128: a burst of more clients than
/// that connecting at once (200 concurrent calls, a fleet of agents) overflows it, the kernel
/// drops the excess SYNs, and those clients retry only after a full second.
const BACKLOG: u32 = 1024;

/// Binds `addr` for listening, with address reuse (as std does) and a [`BACKLOG`]-deep queue.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// `stream`, with `extra` dropped only when the connection is.
#[derive(Debug)]
pub struct TcpWith<T> {
    stream: TcpStream,
    pub extra: T,
}

impl<T> TcpWith<T> {
    pub fn new(stream: TcpStream, extra: T) -> Self {
        TcpWith { stream, extra }
    }
}

impl<T: Unpin> AsyncRead for TcpWith<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<T: Unpin> AsyncWrite for TcpWith<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
