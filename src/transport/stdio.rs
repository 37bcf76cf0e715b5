//! MCP over stdin/stdout: one JSON-RPC message per line.
//!
//! Our own line transport rather than rmcp's, which drops lines that do not parse (the client
//! then waits forever for an answer) and lines over 16 MiB (which also capped inline reference
//! images far below `SEEDREAM_REFERENCE_MAX_MB`). Here every such line gets a JSON-RPC error;
//! a request id still in use is refused; and when stdin closes, calls already running are
//! answered before the server exits, while calls not yet started are refused.

use std::time::Duration;

use rmcp::model::ClientJsonRpcMessage;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServiceExt};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::rpc::{self, InFlight, Refusal};
use crate::tools::ImageServer;

/// Lines shorter than this are always accepted, whatever the reference limit.
const MIN_LINE_LIMIT: usize = 64 * 1024 * 1024;
/// Room for the rest of a request next to its largest reference image.
const LINE_SLACK: usize = 4 * 1024 * 1024;
/// How long calls still running when stdin closes may take to answer. Calls answer with a job
/// id at the wait limit, so this only bounds a server that is stuck.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);
/// How long the last answers may take to reach stdout once the server has stopped.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// The longest line accepted: one reference image of the configured maximum size, as base64,
/// with room for the rest of the request; never less than 64 MiB.
pub fn line_limit(reference_max_bytes: usize) -> usize {
    (reference_max_bytes.saturating_mul(4) / 3)
        .saturating_add(LINE_SLACK)
        .max(MIN_LINE_LIMIT)
}

/// Serves MCP over stdin/stdout until the client closes stdin.
pub async fn serve_stdio(server: ImageServer) -> anyhow::Result<()> {
    let limit = line_limit(server.reference_max_bytes());
    serve_io(server, tokio::io::stdin(), tokio::io::stdout(), limit).await
}

/// Serves MCP over any line-oriented byte pipe (tests use an in-memory one).
pub async fn serve_io<R, W>(
    server: ImageServer,
    reader: R,
    writer: W,
    max_line: usize,
) -> anyhow::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let server = super::routing::advertise(server);
    let (lines_tx, lines_rx) = mpsc::channel::<String>(64);
    let writing = tokio::spawn(write_lines(writer, lines_rx));
    let transport = LineTransport {
        reader: BufReader::with_capacity(64 * 1024, reader),
        max_line,
        line: Vec::new(),
        length: 0,
        out: lines_tx,
        inflight: InFlight::default(),
        server: server.clone(),
    };
    let result = match server.serve(transport).await {
        Ok(running) => running.waiting().await.map(|_| ()).map_err(Into::into),
        // stdin ended before a client said hello (a person trying the command, a probe): there
        // was no session to fail, so it is a normal end, not an error.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("stdin closed before a client connected; exiting");
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e)),
    };
    // Every sender is gone once rmcp has dropped the transport: the writer ends after the last
    // answer is written.
    if tokio::time::timeout(FLUSH_LIMIT, writing).await.is_err() {
        tracing::warn!("stdout did not take the last answers in time");
    }
    result
}

async fn write_lines<W: AsyncWrite + Unpin>(mut writer: W, mut lines: mpsc::Receiver<String>) {
    while let Some(line) = lines.recv().await {
        let written = async {
            writer.write_all(line.as_bytes()).await?;
            writer.write_all(b"\n").await?;
            writer.flush().await
        };
        if let Err(e) = written.await {
            tracing::debug!(error = %e, "stdout closed");
            return;
        }
    }
}

struct LineTransport<R> {
    reader: BufReader<R>,
    max_line: usize,
    /// The line being read, and its length so far (counted on after it passed `max_line`).
    line: Vec<u8>,
    length: usize,
    out: mpsc::Sender<String>,
    inflight: InFlight,
    server: ImageServer,
}

#[derive(Debug, thiserror::Error)]
#[error("stdout is closed")]
pub struct StdoutClosed;

/// What one read from stdin gave.
enum Line {
    Text(Vec<u8>),
    TooLong(usize),
    End,
}

impl<R: AsyncRead + Unpin + Send> LineTransport<R> {
    /// The next line without its newline; a line over the limit is skipped to its end. Safe to
    /// cancel (rmcp drops `receive` whenever it has something to send): a line read in part is
    /// kept in `self`.
    async fn next_line(&mut self) -> Line {
        loop {
            let available = match self.reader.fill_buf().await {
                Ok(available) => available,
                Err(e) => {
                    tracing::debug!(error = %e, "stdin unreadable");
                    return Line::End;
                }
            };
            if available.is_empty() {
                // A last line without a newline still counts.
                return match self.take_line() {
                    Line::Text(line) if line.is_empty() => Line::End,
                    other => other,
                };
            }
            let (chunk, end) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (available.get(..i).unwrap_or_default(), Some(i + 1)),
                None => (available, None),
            };
            self.length = self.length.saturating_add(chunk.len());
            if self.length <= self.max_line {
                self.line.extend_from_slice(chunk);
            } else {
                self.line = Vec::new();
            }
            let consumed = end.unwrap_or(available.len());
            self.reader.consume(consumed);
            if end.is_some() {
                return self.take_line();
            }
        }
    }

    fn take_line(&mut self) -> Line {
        let length = std::mem::take(&mut self.length);
        let line = std::mem::take(&mut self.line);
        if length > self.max_line {
            Line::TooLong(length)
        } else {
            Line::Text(line)
        }
    }

    fn refuse(&self, refusal: &Refusal) {
        tracing::info!(code = refusal.code, message = %refusal.message, "refused a stdin line");
        let line = refusal.to_json().to_string();
        if let Err(mpsc::error::TrySendError::Full(line)) = self.out.try_send(line) {
            let out = self.out.clone();
            tokio::spawn(async move { out.send(line).await });
        }
    }

    /// Holds the end of input back until the running calls have answered.
    async fn end(&mut self) -> Option<ClientJsonRpcMessage> {
        // The client has gone: nothing new may start (and be billed) without anyone to
        // answer, but what runs already finishes and answers.
        self.server.begin_shutdown();
        let running = self.inflight.len();
        if running > 0 {
            tracing::info!(
                running,
                "stdin closed; answering the running calls before exiting"
            );
            if tokio::time::timeout(DRAIN_LIMIT, self.inflight.drained())
                .await
                .is_err()
            {
                tracing::warn!("calls still running at exit");
            }
        }
        None
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> Transport<RoleServer> for LineTransport<R> {
    type Error = StdoutClosed;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answered = match &item {
            rmcp::model::JsonRpcMessage::Response(r) => Some(rpc::id_key(&r.id)),
            rmcp::model::JsonRpcMessage::Error(e) => e.id.as_ref().map(rpc::id_key),
            _ => None,
        };
        let line = serde_json::to_string(&item);
        let out = self.out.clone();
        let inflight = self.inflight.clone();
        async move {
            let line = line.map_err(|e| {
                tracing::error!(error = %e, "could not serialize a message");
                StdoutClosed
            })?;
            let sent = out.send(line).await.map_err(|_| StdoutClosed);
            // Released once queued for stdout: a request with the same id that follows is new.
            if let Some(key) = answered {
                inflight.release(&key);
            }
            sent
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let line = match self.next_line().await {
                Line::End => return self.end().await,
                Line::TooLong(length) => {
                    let refusal = Refusal {
                        id: serde_json::Value::Null,
                        code: rpc::INVALID_REQUEST,
                        message: format!(
                            "Invalid Request: a line of {length} bytes is over this server's limit of {} \
                             bytes per message; send large reference images as file paths or URLs \
                             instead of inline data",
                            self.max_line
                        ),
                    };
                    self.refuse(&refusal);
                    continue;
                }
                Line::Text(line) => line,
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let message = match rpc::parse(&line) {
                Ok(message) => message,
                Err(refusal) => {
                    self.refuse(&refusal);
                    continue;
                }
            };
            if let ClientJsonRpcMessage::Request(request) = &message {
                let id = serde_json::to_value(&request.id).unwrap_or_default();
                if let Err(refusal) = self.inflight.claim(&id) {
                    self.refuse(&refusal);
                    continue;
                }
            }
            // A cancelled request gets no answer from rmcp, so its id is free now.
            if let Some(key) = rpc::cancelled_id(&message) {
                self.inflight.release(&key);
            }
            return Some(message);
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
