//! The ACS Identity API (users and their access tokens), and the HMAC-SHA256 request signing
//! its callers use.
//!
//! Server-side code mints user access tokens with the resource's access key, read from its
//! [`ConnectionString`]: every request is signed with [`sign_request`] (the scheme of the
//! official SDKs: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=…`
//! over `METHOD\n<path and query>\n<x-ms-date>;<host>;<x-ms-content-sha256>`).
//!
//! The operations ([`CreateUser`], [`IssueAccessToken`], [`RevokeAccessTokens`], [`DeleteUser`],
//! [`ExchangeTeamsUserAccessToken`]) and their models are generated from the Identity spec
//! (api-version 2023-10-01, the one the official SDKs send); build them with a
//! [`RequestContext`](crate::RequestContext) whose api-version is [`IDENTITY_API_VERSION`].
//!
//! ```
//! use acs_chat_protocol::identity::{
//!     sign_request, ConnectionString, CreateUser, CreateUserOptions, IDENTITY_API_VERSION,
//!     CommunicationIdentityTokenScope,
//! };
//! use acs_chat_protocol::{DateTime, Operation, RequestContext};
//!
//! let connection = ConnectionString::parse("endpoint=https://contoso.communication.azure.com/;accesskey=cHc=")?;
//! let ctx = RequestContext::new(connection.endpoint().clone(), IDENTITY_API_VERSION);
//! let op = CreateUser::new(
//!     CreateUserOptions::default().create_token_with_scopes([CommunicationIdentityTokenScope::Chat]),
//! );
//! let mut request = op.build_request(&ctx)?;
//! sign_request(&mut request, connection.access_key(), DateTime::parse("2026-01-01T00:00:00Z")?)?;
//! assert!(request.headers()["authorization"].to_str()?.starts_with("HMAC-SHA256 SignedHeaders="));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod hmac;
mod keys;

pub use crate::generated::identity_models::*;
pub use crate::generated::identity_operations::*;
pub use hmac::{
    SIGNED_HEADERS, compute_signature, content_hash, http_date, sign_request, string_to_sign,
};
pub use keys::{AccessKey, ConnectionString};

use crate::ApiVersion;

/// The Identity api-version the official SDKs send.
pub const IDENTITY_API_VERSION: ApiVersion = ApiVersion::V2023_10_01_IDENTITY;
