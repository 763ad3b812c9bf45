//! What every client builder shares: the settings, the transport and the runtime.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use acs_chat_protocol::{ApiVersion, Endpoint, RequestContext};

use crate::Error;
use crate::pipeline::{Auth, DynTransport, Pipeline, user_agent};
use crate::retry::RetryOptions;
use crate::runtime::{Runtime, default_runtime};

/// The settings of a client builder.
#[derive(Default)]
pub(crate) struct Config {
    pub(crate) api_version: Option<ApiVersion>,
    pub(crate) retry: RetryOptions,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) application_id: Option<String>,
    pub(crate) transport: Option<Arc<dyn DynTransport>>,
    /// The [`Transport::timeout`](crate::Transport::timeout) of the transport given as `transport`.
    pub(crate) transport_timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) root_certificates: Vec<Vec<u8>>,
    pub(crate) allow_http: bool,
    pub(crate) runtime: Option<Arc<dyn Runtime>>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("api_version", &self.api_version)
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("application_id", &self.application_id)
            .field("custom_transport", &self.transport.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("root_certificates", &self.root_certificates.len())
            .field("allow_http", &self.allow_http)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Config {
    /// Validates everything and assembles the pipeline: the endpoint (plain `http` only when
    /// allowed), the runtime, the transport (the default one, or the caller's, which the default
    /// transport's settings do not apply to) and the credential's runtime.
    pub(crate) fn build(
        self,
        endpoint: &str,
        auth: Auth,
        default_version: ApiVersion,
    ) -> Result<Pipeline, Error> {
        let endpoint = Endpoint::parse(endpoint)?;
        if !endpoint.is_https() && !self.allow_http {
            return Err(Error::invalid_argument(format!(
                "the endpoint {endpoint} uses plain http: credentials would travel in clear text \
                 (call allow_insecure_http(true) for a local emulator)"
            )));
        }
        // The default runtime's clock is the system clock, which is then read directly.
        let system_clock = self.runtime.is_none();
        let runtime = self.runtime.clone().or_else(default_runtime).ok_or_else(|| {
            Error::invalid_argument(
                "no async runtime: enable the `tokio` feature (on by default) or call .runtime(…)",
            )
        })?;
        // With the default transport, its request timeout (see `Pipeline::send`).
        let (transport, request_timeout) = match self.transport.clone() {
            Some(transport) => {
                if !self.root_certificates.is_empty()
                    || self.connect_timeout.is_some()
                    || self.request_timeout.is_some()
                {
                    return Err(Error::invalid_argument(
                        "add_root_certificate_pem, connect_timeout and request_timeout configure \
                         the default transport; with .transport(…) set them on that transport",
                    ));
                }
                (transport, self.transport_timeout)
            }
            None => default_transport(&self)?,
        };
        if let Auth::Bearer(credential) = &auth {
            credential.bind_runtime(&runtime, system_clock)?;
        }
        // Only when the pipeline's timers run on the same (tokio's) clock as the transport's.
        let transport_timeout = request_timeout.filter(|_| system_clock);
        Ok(Pipeline {
            transport,
            transport_timeout,
            ctx: RequestContext::new(endpoint, self.api_version.unwrap_or(default_version)),
            auth,
            retry: self.retry,
            attempt_timeout: self.attempt_timeout,
            user_agent: user_agent(self.application_id.as_deref())?,
            runtime,
            system_clock,
        })
    }
}

/// `acs_chat_transport::HyperTransport` with the builder's timeouts, roots and `allow_http`.
#[cfg(feature = "hyper")]
fn default_transport(config: &Config) -> Result<(Arc<dyn DynTransport>, Option<Duration>), Error> {
    let mut builder = acs_chat_transport::HyperTransport::builder().allow_http(config.allow_http);
    if let Some(d) = config.connect_timeout {
        builder = builder.connect_timeout(d);
    }
    if let Some(d) = config.request_timeout {
        builder = builder.request_timeout(d);
    }
    for pem in &config.root_certificates {
        // A bad PEM is the caller's argument, not a transport failure.
        builder = builder.add_root_certificate_pem(pem).map_err(|e| {
            Error::invalid_argument(format!("add_root_certificate_pem: {}", e.message()))
        })?;
    }
    let transport = builder.build()?;
    let timeout = crate::Transport::timeout(&transport);
    Ok((Arc::new(transport), timeout))
}

#[cfg(not(feature = "hyper"))]
fn default_transport(_config: &Config) -> Result<(Arc<dyn DynTransport>, Option<Duration>), Error> {
    Err(Error::invalid_argument(
        "no transport: enable the `hyper` feature (on by default) or call .transport(…)",
    ))
}

/// The setters every builder shares (on a `config: Config` field).
macro_rules! config_setters {
    () => {
        /// Sends requests with `transport` (any [`Transport`](crate::Transport), e.g. a closure)
        /// instead of the default hyper + rustls one. The client's type does not change.
        pub fn transport(mut self, transport: impl crate::Transport + 'static) -> Self {
            self.config.transport_timeout = crate::Transport::timeout(&transport);
            self.config.transport = Some(std::sync::Arc::new(transport));
            self
        }

        /// Runs timers, the clock and background tasks on `runtime` (default: tokio's, feature
        /// `tokio`). A [`ManualClock`](crate::testing::ManualClock) makes time a test input.
        pub fn runtime(mut self, runtime: impl crate::Runtime) -> Self {
            self.config.runtime = Some(std::sync::Arc::new(runtime));
            self
        }

        /// The api-version to send (default: the service's newest stable version).
        pub fn api_version(mut self, version: impl Into<crate::ApiVersion>) -> Self {
            self.config.api_version = Some(version.into());
            self
        }

        /// How failed requests are retried, and the overall deadline of a call (default:
        /// [`RetryOptions::default`](crate::RetryOptions::default)).
        pub fn retry(mut self, options: crate::RetryOptions) -> Self {
            self.config.retry = options;
            self
        }

        /// A deadline for each attempt, enforced by the client whatever the transport; an
        /// attempt that passes it is retried like a timeout (default: none, the transport's).
        pub fn attempt_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.attempt_timeout = Some(timeout);
            self
        }

        /// The default transport's connect timeout.
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.connect_timeout = Some(timeout);
            self
        }

        /// The default transport's whole-request timeout.
        pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.request_timeout = Some(timeout);
            self
        }

        /// Trusts an extra root certificate (PEM) in the default transport, e.g. a local
        /// emulator's CA. A malformed PEM fails [`build`](Self::build) with
        /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument).
        pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
            self.config.root_certificates.push(pem.into());
            self
        }

        /// Allows a plain `http://` endpoint (for a loopback emulator). Off by default: a
        /// credential is never sent in clear text unless asked for.
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.config.allow_http = allow;
            self
        }

        /// An application id that prefixes the User-Agent (1 to 24 printable ASCII characters,
        /// no spaces).
        pub fn application_id(mut self, id: impl Into<String>) -> Self {
            self.config.application_id = Some(id.into());
            self
        }
    };
}
pub(crate) use config_setters;
