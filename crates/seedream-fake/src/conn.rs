//! The listener: plain TCP, except that each connection keeps a duplicate socket handle so
//! a handler can drop the connection without answering (the `reset` scenario).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};

use crate::tcp::TcpWith;
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be cut from inside a handler.
#[derive(Debug)]
pub(crate) struct FakeListener(pub TcpListener);

impl Listener for FakeListener {
    type Io = ConnIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (ConnIo, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((tcp, addr)) => {
                    let _ = tcp.set_nodelay(true);
                    let control = duplicate(&tcp).map(Arc::new);
                    return (ConnIo::new(tcp, control), addr);
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

#[cfg(unix)]
fn duplicate(tcp: &TcpStream) -> Option<std::net::TcpStream> {
    use std::os::fd::AsFd;
    tcp.as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::net::TcpStream::from)
}

#[cfg(windows)]
fn duplicate(tcp: &TcpStream) -> Option<std::net::TcpStream> {
    use std::os::windows::io::AsSocket;
    tcp.as_socket()
        .try_clone_to_owned()
        .ok()
        .map(std::net::TcpStream::from)
}

#[cfg(not(any(unix, windows)))]
fn duplicate(_tcp: &TcpStream) -> Option<std::net::TcpStream> {
    None
}

/// One accepted connection, with the duplicate handle that can cut it.
pub(crate) type ConnIo = TcpWith<Option<Arc<std::net::TcpStream>>>;

/// Handed to handlers (as `ConnectInfo`) to cut their connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle(Option<Arc<std::net::TcpStream>>);

impl ConnHandle {
    /// Shuts the socket down in both directions: the client sees the connection closed
    /// with no response, and hyper abandons the request. Returns whether it worked.
    pub(crate) fn cut(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|s| s.shutdown(std::net::Shutdown::Both).is_ok())
    }
}

impl Connected<IncomingStream<'_, FakeListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, FakeListener>) -> Self {
        ConnHandle(stream.io().extra.clone())
    }
}
