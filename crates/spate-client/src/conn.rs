//! One TCP connection to the server: opening it (HELLO → WELCOME) and the
//! per-connection state the connection task drives (the framed reader, the
//! write half, keepalive and GOAWAY bookkeeping). Also [`Parked`]: a
//! delivery waiting for room in a subscription's buffer while reading is
//! paused; it belongs to the task, not the connection, because it must
//! survive a reconnect.

use std::collections::VecDeque;

use futures::StreamExt;
use spate_proto::{Codec, Frame, Hello, Text, Welcome, PROTOCOL_VERSION};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;

use crate::error::{Error, ServerError};
use crate::event::Event;
use crate::options::ClientOptions;

/// Bytes the reader asks the socket for at a time.
const READ_BUFFER: usize = 64 * 1024;

/// Events of one subscription that did not fit its buffer. While a
/// delivery is parked the socket is not read, so at most one frame's worth
/// of events waits here.
#[derive(Debug)]
pub(crate) struct Parked {
    pub(crate) sub_id: u32,
    pub(crate) tx: mpsc::Sender<Event>,
    pub(crate) events: VecDeque<Event>,
}

/// The read half of the transport (TCP, or TLS with feature `tls`).
pub(crate) type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of the transport.
pub(crate) type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A live connection.
pub(crate) struct Conn {
    pub(crate) reader: FramedRead<ReadHalf, Codec>,
    pub(crate) writer: WriteHalf,
    /// A fatal ERROR the server sent; it closes the connection next.
    pub(crate) fatal: Option<Error>,
    /// Set by GOAWAY: the reason, and when to stop waiting for the close.
    pub(crate) goaway: Option<(String, Instant)>,
    /// When the server was last heard from (for the keepalive).
    pub(crate) last_heard: Instant,
    /// A keepalive PING is awaiting its PONG.
    pub(crate) ping_outstanding: bool,
    /// The server's largest accepted frame.
    pub(crate) max_frame: usize,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("fatal", &self.fatal)
            .field("goaway", &self.goaway)
            .field("max_frame", &self.max_frame)
            .finish_non_exhaustive()
    }
}

/// Opens the transport: TCP, wrapped in TLS when the options ask for it.
async fn transport(
    stream: TcpStream,
    addr: &str,
    opts: &ClientOptions,
) -> Result<(ReadHalf, WriteHalf), Error> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &opts.tls {
        let s = crate::tls::connect(stream, addr, tls).await?;
        let (r, w) = tokio::io::split(s);
        return Ok((Box::new(r), Box::new(w)));
    }
    let _ = (addr, opts);
    let (r, w) = stream.into_split();
    Ok((Box::new(r), Box::new(w)))
}

/// Connects to `addr` and exchanges HELLO/WELCOME, within the configured
/// connect timeout.
pub(crate) async fn open(addr: &str, opts: &ClientOptions) -> Result<(Conn, Welcome), Error> {
    match tokio::time::timeout(opts.connect_timeout, handshake(addr, opts)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout("connecting and handshaking with the server")),
    }
}

async fn handshake(addr: &str, opts: &ClientOptions) -> Result<(Conn, Welcome), Error> {
    let stream = TcpStream::connect(addr).await.map_err(|e| Error::Connect {
        addr: addr.to_string(),
        cause: e.into(),
    })?;
    stream.set_nodelay(true).map_err(Error::io)?;
    let (r, mut writer) = transport(stream, addr, opts).await?;
    let mut reader =
        FramedRead::with_capacity(r, Codec::replies(opts.max_incoming_frame), READ_BUFFER);
    let hello = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        flags: 0,
        client_name: Text::from(opts.name.as_str()),
        auth_token: opts
            .token
            .as_ref()
            .map_or_else(Text::default, |t| Text::from(t.token())),
    });
    writer
        .write_all(&hello.to_bytes())
        .await
        .map_err(Error::io)?;
    let welcome = loop {
        match reader.next().await {
            Some(Ok(Frame::Welcome(w))) => break w,
            Some(Ok(Frame::Ping(t))) => writer
                .write_all(&Frame::Pong(t).to_bytes())
                .await
                .map_err(Error::io)?,
            Some(Ok(Frame::Error { code, message, .. })) => {
                return Err(Error::Server(ServerError::new(code, message.as_str())))
            }
            Some(Ok(other)) => {
                return Err(Error::Protocol(format!(
                    "expected WELCOME, got {}",
                    spate_proto::opcode_name(other.opcode()).unwrap_or("?")
                )))
            }
            Some(Err(e)) => {
                // An HTTP server answers the HELLO with a status line, whose
                // first bytes read as an absurd frame length.
                if reader.read_buffer().starts_with(b"HTTP") {
                    return Err(Error::Protocol(format!(
                        "{addr} is an HTTP server (the admin port?), not a spate client listener"
                    )));
                }
                return Err(refused_tls(codec_error(e)));
            }
            None => {
                return Err(Error::Disconnected(
                    "the server closed the connection during the handshake".into(),
                ))
            }
        }
    };
    if welcome.version != PROTOCOL_VERSION {
        return Err(Error::Protocol(format!(
            "the server speaks protocol version {}, this client {}",
            welcome.version, PROTOCOL_VERSION
        )));
    }
    // The server's frames may exceed its own limit by the per-delivery
    // header it adds (protocol.md §2: at most max_frame + 64 KiB).
    let max_in = opts
        .max_incoming_frame
        .max(welcome.max_frame as usize + 64 * 1024);
    reader.decoder_mut().set_max_frame(max_in);
    let conn = Conn {
        reader,
        writer,
        fatal: None,
        goaway: None,
        last_heard: Instant::now(),
        ping_outstanding: false,
        max_frame: welcome.max_frame as usize,
    };
    Ok((conn, welcome))
}

/// With TLS 1.3 a server that refuses the client's certificate says so
/// with an alert the client reads only after its HELLO: say what it means.
fn refused_tls(e: Error) -> Error {
    let text = e.to_string();
    let refused = [
        "CertificateRequired",
        "UnknownCA",
        "BadCertificate",
        "CertificateExpired",
    ]
    .iter()
    .any(|a| text.contains(a));
    match refused {
        true => Error::Tls(format!(
            "the server refused this client's certificate: {text} (it asks for one signed by its client CA: give --cert and --cert-key)"
        )),
        false => e,
    }
}

/// Maps a codec failure to the client's error.
pub(crate) fn codec_error(e: spate_proto::CodecError) -> Error {
    match e {
        spate_proto::CodecError::Io(e) => Error::io(e),
        spate_proto::CodecError::Decode(d) => Error::Protocol(d.to_string()),
    }
}
