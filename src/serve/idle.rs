//! Connections that end when idle: a listener whose connections fail once nothing could be
//! read or written for [`IDLE`], so that half-open or stalled clients (500 of them, or one that
//! reads a large file a byte at a time) do not hold the dashboard's sockets and memory forever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, Instant, Sleep};

/// How long a connection may make no progress before it is closed.
pub const IDLE: Duration = Duration::from_secs(30);

/// A TCP listener whose connections close after [`IDLE`] without progress.
pub struct IdleListener {
    inner: TcpListener,
    idle: Duration,
}

impl IdleListener {
    /// Wraps `inner`; its connections close after `idle` without progress.
    pub fn new(inner: TcpListener, idle: Duration) -> IdleListener {
        IdleListener { inner, idle }
    }
}

impl axum::serve::Listener for IdleListener {
    type Io = IdleStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (IdleStream::new(stream, self.idle), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails with `TimedOut` once it made no progress for its idle time.
pub struct IdleStream {
    inner: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl IdleStream {
    fn new(inner: TcpStream, idle: Duration) -> IdleStream {
        IdleStream {
            inner,
            idle,
            deadline: Box::pin(sleep(idle)),
        }
    }

    /// Progress: the idle time starts again.
    fn progressed(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// While waiting: an error once the idle time has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        self.deadline.as_mut().poll(cx).map(|()| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long; closed",
            )
        })
    }

    /// `poll` on the stream, with the idle deadline.
    fn guarded<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => {
                self.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }
}

impl AsyncRead for IdleStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut()
            .guarded(cx, |stream, cx| stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for IdleStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .guarded(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .guarded(cx, |stream, cx| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_silent_connection_is_closed_and_a_busy_one_is_not() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = IdleListener::new(listener, Duration::from_millis(1000));
        let server = tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..2 {
                let (mut stream, _) = axum::serve::Listener::accept(&mut listener).await;
                let mut got = Vec::new();
                let mut buf = [0u8; 16];
                let end = loop {
                    match stream.read(&mut buf).await {
                        Ok(0) => break None,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) => break Some(e.kind()),
                    }
                };
                results.push((got.len(), end));
            }
            results
        });
        // Silent: closed by the server after its idle time.
        let silent = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Busy: a byte every 50 ms (far inside the idle time, even on a loaded machine), then a
        // clean close.
        let mut busy = TcpStream::connect(addr).await.unwrap();
        for _ in 0..10 {
            busy.write_all(b"x").await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        busy.shutdown().await.unwrap();
        let results = server.await.unwrap();
        drop(silent);
        assert_eq!(results[0], (0, Some(io::ErrorKind::TimedOut)));
        assert_eq!(results[1], (10, None));
    }
}
