//! The settings every client builder shares, and the choice of transport.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use acs_chat_protocol::{ApiVersion, Endpoint};
use acs_chat_transport::Transport;

use crate::Error;
use crate::pipeline::{Settings, user_agent};
use crate::retry::RetryOptions;
use crate::runtime::{Clock, Jitter, RandomJitter, Sleep, SystemClock, TokioSleep};

mod sealed {
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

/// What a builder sends requests with: [`DefaultTransport`] until `.transport(..)` is called,
/// then [`CustomTransport`]. Sealed.
pub trait TransportChoice: sealed::Sealed {
    /// The transport type the client ends up with.
    type Transport: Transport + 'static;

    #[doc(hidden)]
    fn into_transport(self, config: &TransportConfig) -> Result<Self::Transport, Error>;
}

/// The default transport: `acs_chat_transport::HyperTransport` (feature `hyper`), configured from
/// the builder's timeouts, extra root certificates and `allow_insecure_http`. Without the
/// `hyper` feature, a builder must be given a transport before it can build.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DefaultTransport;

/// A transport the caller chose.
#[derive(Debug, Clone)]
pub struct CustomTransport<T>(pub(crate) T);

impl sealed::Sealed for DefaultTransport {}
impl<T> sealed::Sealed for CustomTransport<T> {}

impl<T: Transport + 'static> TransportChoice for CustomTransport<T> {
    type Transport = T;

    fn into_transport(self, _config: &TransportConfig) -> Result<T, Error> {
        Ok(self.0)
    }
}

#[cfg(feature = "hyper")]
impl TransportChoice for DefaultTransport {
    type Transport = acs_chat_transport::HyperTransport;

    fn into_transport(
        self,
        config: &TransportConfig,
    ) -> Result<acs_chat_transport::HyperTransport, Error> {
        let mut builder =
            acs_chat_transport::HyperTransport::builder().allow_http(config.allow_http);
        if let Some(d) = config.connect_timeout {
            builder = builder.connect_timeout(d);
        }
        if let Some(d) = config.request_timeout {
            builder = builder.request_timeout(d);
        }
        for pem in &config.root_certificates {
            builder = builder.add_root_certificate_pem(pem)?;
        }
        Ok(builder.build()?)
    }
}

/// What the builder hands to the default transport.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct TransportConfig {
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    root_certificates: Vec<Vec<u8>>,
    allow_http: bool,
}

/// The settings shared by [`ChatClientBuilder`](crate::ChatClientBuilder) and
/// [`IdentityClientBuilder`](crate::IdentityClientBuilder).
#[derive(Clone)]
pub(crate) struct Common {
    pub(crate) api_version: Option<ApiVersion>,
    pub(crate) retry: RetryOptions,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) application_id: Option<String>,
    pub(crate) transport: TransportConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sleep: Arc<dyn Sleep>,
    pub(crate) jitter: Arc<dyn Jitter>,
}

impl fmt::Debug for Common {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Common")
            .field("api_version", &self.api_version)
            .field("retry", &self.retry)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("application_id", &self.application_id)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Default for Common {
    fn default() -> Self {
        Self {
            api_version: None,
            retry: RetryOptions::default(),
            attempt_timeout: None,
            application_id: None,
            transport: TransportConfig::default(),
            clock: Arc::new(SystemClock),
            sleep: Arc::new(TokioSleep),
            jitter: Arc::new(RandomJitter),
        }
    }
}

impl Common {
    /// Validates the endpoint (plain `http` only when allowed) and assembles the settings.
    pub(crate) fn finish(&self, endpoint: &str) -> Result<(Endpoint, Settings), Error> {
        let endpoint = Endpoint::parse(endpoint)?;
        if !endpoint.is_https() && !self.transport.allow_http {
            return Err(Error::invalid_argument(format!(
                "the endpoint {endpoint} uses plain http: credentials would travel in clear text \
                 (call allow_insecure_http(true) for a local emulator)"
            )));
        }
        let settings = Settings {
            retry: self.retry.clone(),
            attempt_timeout: self.attempt_timeout,
            clock: Arc::clone(&self.clock),
            sleep: Arc::clone(&self.sleep),
            jitter: Arc::clone(&self.jitter),
            user_agent: user_agent(self.application_id.as_deref())?,
        };
        Ok((endpoint, settings))
    }
}

/// Generates the setters every builder shares.
macro_rules! common_setters {
    () => {
        /// The api-version to send (default: the protocol crate's default).
        pub fn api_version(mut self, version: impl Into<acs_chat_protocol::ApiVersion>) -> Self {
            self.common.api_version = Some(version.into());
            self
        }

        /// How failed requests are retried (default: [`RetryOptions::default`](crate::RetryOptions::default)).
        pub fn retry(mut self, options: crate::RetryOptions) -> Self {
            self.common.retry = options;
            self
        }

        /// A deadline for each attempt, enforced by the client whatever the transport; an
        /// attempt that passes it is retried like a timeout (default: none).
        pub fn attempt_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.attempt_timeout = Some(timeout);
            self
        }

        /// The default transport's connect timeout.
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.transport.set_connect_timeout(timeout);
            self
        }

        /// The default transport's whole-request timeout.
        pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.transport.set_request_timeout(timeout);
            self
        }

        /// Trusts an extra root certificate (PEM) in the default transport, e.g. a local
        /// emulator's test CA.
        pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
            self.common.transport.add_root_certificate(pem.into());
            self
        }

        /// Allows a plain `http://` endpoint (for a loopback emulator). Off by default: a
        /// credential is never sent in clear text unless asked for.
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.common.transport.set_allow_http(allow);
            self
        }

        /// An application id that prefixes the User-Agent (1 to 24 printable ASCII characters,
        /// no spaces).
        pub fn application_id(mut self, id: impl Into<String>) -> Self {
            self.common.application_id = Some(id.into());
            self
        }

        /// The clock (default: the system clock).
        pub fn clock(mut self, clock: impl crate::runtime::Clock + 'static) -> Self {
            self.common.clock = std::sync::Arc::new(clock);
            self
        }

        /// The timer for backoff and timeouts (default: tokio's).
        pub fn sleep(mut self, sleep: impl crate::runtime::Sleep + 'static) -> Self {
            self.common.sleep = std::sync::Arc::new(sleep);
            self
        }

        /// The source of backoff jitter (default: `fastrand`).
        pub fn jitter(mut self, jitter: impl crate::runtime::Jitter + 'static) -> Self {
            self.common.jitter = std::sync::Arc::new(jitter);
            self
        }
    };
}
pub(crate) use common_setters;

impl TransportConfig {
    pub(crate) fn set_connect_timeout(&mut self, d: Duration) {
        self.connect_timeout = Some(d);
    }

    pub(crate) fn set_request_timeout(&mut self, d: Duration) {
        self.request_timeout = Some(d);
    }

    pub(crate) fn add_root_certificate(&mut self, pem: Vec<u8>) {
        self.root_certificates.push(pem);
    }

    pub(crate) fn set_allow_http(&mut self, allow: bool) {
        self.allow_http = allow;
    }
}
