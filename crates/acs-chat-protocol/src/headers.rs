//! The names of the ACS headers a request or a response carries besides the standard ones
//! (which are `http::header`'s), as constants for maps keyed by [`HeaderName`].

use http::HeaderName;

/// `x-ms-client-request-id`: the id a client gives a request; the service echoes it.
pub const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// `x-ms-request-id`: the service's id of the request it answers.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");

/// `MS-CV`: the service's correlation vector of the request it answers.
pub const MS_CV: HeaderName = HeaderName::from_static("ms-cv");
