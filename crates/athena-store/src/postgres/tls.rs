//! TLS to PostgreSQL, through rustls (already in the build for HTTPS): used when the URL says
//! `sslmode=require`, and then the server's certificate is verified, always, against the
//! public roots (webpki-roots) and the file libpq reads, `$PGSSLROOTCERT` or else
//! `~/.postgresql/root.crt`, for a server whose certificate a private CA signed. Without
//! `sslmode=require` (the default `prefer`, or `disable`) the connection is not encrypted:
//! `prefer`'s "TLS if the server offers it, unverified" would pass for a protection it is not.
//!
//! No channel binding: SCRAM authenticates as `SCRAM-SHA-256`, not `-PLUS`.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

/// Makes the TLS session of each connection to a PostgreSQL server.
#[derive(Clone)]
pub(super) struct Tls {
    config: Arc<rustls::ClientConfig>,
}

impl Tls {
    /// Trusts the public roots and the file libpq reads (see the module).
    pub(super) fn new() -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(file) = root_file() {
            let certs = CertificateDer::pem_file_iter(&file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("reading the root certificates in {}: {e}", file.display()))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("a root certificate in {}: {e}", file.display()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
        })
    }
}

/// libpq's root certificate file: `$PGSSLROOTCERT`, else `~/.postgresql/root.crt` if it exists.
fn root_file() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("PGSSLROOTCERT").filter(|f| !f.is_empty()) {
        return Some(PathBuf::from(file));
    }
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".postgresql/root.crt")).filter(|f| f.exists())
}

impl<S> MakeTlsConnect<S> for Tls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        let name = ServerName::try_from(domain.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Connect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name,
        })
    }
}

/// The TLS session of one connection, to the server named.
pub(super) struct Connect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

type Handshake<S> = Pin<Box<dyn std::future::Future<Output = io::Result<TlsStream<S>>> + Send>>;

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = io::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        Box::pin(async move {
            let session = self.connector.connect(self.name, stream).await?;
            Ok(TlsStream(Box::new(session)))
        })
    }
}

/// A connection's stream, encrypted.
pub(super) struct TlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// How a store's connections reach its server: encrypted when the URL asks for it.
#[derive(Clone)]
pub(super) enum Transport {
    Plain,
    Encrypted(Tls),
}

impl Transport {
    /// The transport `url` asks for (`sslmode=require`: TLS); an error names what is wrong
    /// with the root certificates.
    pub(super) fn of(url: &str) -> Result<Self, String> {
        let mode = (url.parse::<tokio_postgres::Config>()).map(|c| c.get_ssl_mode());
        if matches!(mode, Ok(tokio_postgres::config::SslMode::Require)) {
            Tls::new().map(Transport::Encrypted)
        } else {
            Ok(Transport::Plain)
        }
    }

    /// Connects to `url`; the connection runs on the store's runtime until the client drops.
    pub(super) async fn connect(
        &self,
        url: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        match self {
            Transport::Plain => {
                let (client, connection) =
                    tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
                super::runtime().spawn(run(connection));
                Ok(client)
            }
            Transport::Encrypted(tls) => {
                let (client, connection) = tokio_postgres::connect(url, tls.clone()).await?;
                super::runtime().spawn(run(connection));
                Ok(client)
            }
        }
    }

    /// Asks the server to cancel the statement `token`'s connection runs.
    pub(super) async fn cancel(&self, token: tokio_postgres::CancelToken) {
        let _ = match self {
            Transport::Plain => token.cancel_query(tokio_postgres::NoTls).await,
            Transport::Encrypted(tls) => token.cancel_query(tls.clone()).await,
        };
    }
}

async fn run(connection: impl std::future::Future<Output = Result<(), tokio_postgres::Error>>) {
    if let Err(e) = connection.await {
        tracing::debug!("a PostgreSQL connection ended: {e}");
    }
}
