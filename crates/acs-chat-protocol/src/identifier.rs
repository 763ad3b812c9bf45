//! [`CommunicationIdentifier`]: who a participant, a sender or a creator is, with the official
//! SDKs' raw id rules (`8:acs:…`, `4:+1…`, `8:orgid:…`, `28:orgid:…`, …), read from and written
//! to the wire's `CommunicationIdentifierModel` shape.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::models::CommunicationCloudEnvironment;

const PHONE: &str = "4:";
const PHONE_ANONYMOUS: &str = "4:anonymous";
const TEAMS_VISITOR: &str = "8:teamsvisitor:";
const TEAMS_PUBLIC: &str = "8:orgid:";
const TEAMS_DOD: &str = "8:dod:";
const TEAMS_GCCH: &str = "8:gcch:";
const APP_PUBLIC: &str = "28:orgid:";
const APP_DOD: &str = "28:dod:";
const APP_GCCH: &str = "28:gcch:";
const ACS: &str = "8:acs:";
const ACS_DOD: &str = "8:dod-acs:";
const ACS_GCCH: &str = "8:gcch-acs:";
const SPOOL: &str = "8:spool:";

/// Who a participant, a sender or a creator is.
///
/// It is what every model carries where the wire has a `CommunicationIdentifierModel`, and what
/// every method takes, so a listed participant can be passed back as it is and a message's
/// sender compared with your own id. Two identifiers are equal when their raw ids are (the
/// official SDKs' rule), whatever else they carry.
///
/// On the wire it is `kind`, `rawId` and the kind's member (`communicationUser`,
/// `phoneNumber`, …); a kind this crate does not know is kept whole in
/// [`Unknown`](Self::Unknown) and written back as it came.
///
/// The kinds other than an ACS user are boxed: every message carries a sender (and system
/// messages an initiator), nearly always an ACS user, so the identifier stays the size of one
/// `String` and a page of 200 messages parses without the allocator mapping fresh memory for
/// it (a message was 536 bytes with the kinds inline, 344 with them boxed).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CommunicationIdentifier {
    /// An ACS user (`8:acs:<resource>_<id>`).
    CommunicationUser(CommunicationUserIdentifier),
    /// A phone number (`4:+14255550123`).
    PhoneNumber(Box<PhoneNumberIdentifier>),
    /// A Microsoft Teams user (`8:orgid:<entra object id>`).
    MicrosoftTeamsUser(Box<MicrosoftTeamsUserIdentifier>),
    /// A Microsoft Teams application (`28:orgid:<app id>`).
    MicrosoftTeamsApp(Box<MicrosoftTeamsAppIdentifier>),
    /// A Teams Phone extension user (`8:acs:<resource>_<tenant>_<user>`).
    TeamsExtensionUser(Box<TeamsExtensionUserIdentifier>),
    /// Anything else, kept as its raw id.
    Unknown(Box<UnknownIdentifier>),
}

/// An ACS user; its id is its raw id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CommunicationUserIdentifier {
    /// The full id, e.g. `8:acs:8540c0de-…_c94ff260-…`.
    pub id: String,
}

impl CommunicationUserIdentifier {
    /// An ACS user from its id (`8:acs:…`).
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

impl From<CommunicationUserIdentifier> for CommunicationIdentifier {
    fn from(user: CommunicationUserIdentifier) -> Self {
        Self::CommunicationUser(user)
    }
}

/// A phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PhoneNumberIdentifier {
    /// The number, usually E.164 (`+14255550123`), or `anonymous`.
    pub phone_number: String,
    /// Whether the number is anonymous.
    pub is_anonymous: bool,
    /// The asserted id, when the same number joined more than once.
    pub asserted_id: Option<String>,
    /// The raw id as the service sent it, when known.
    pub raw_id: Option<String>,
}

/// A Microsoft Teams user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MicrosoftTeamsUserIdentifier {
    /// The Entra ID object id (or the visitor id when anonymous).
    pub user_id: String,
    /// Whether the user is an anonymous Teams visitor.
    pub is_anonymous: bool,
    /// The cloud.
    pub cloud: CommunicationCloudEnvironment,
    /// The raw id as the service sent it, when known.
    pub raw_id: Option<String>,
}

/// A Microsoft Teams application.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MicrosoftTeamsAppIdentifier {
    /// The application id.
    pub app_id: String,
    /// The cloud.
    pub cloud: CommunicationCloudEnvironment,
    /// The raw id as the service sent it, when known.
    pub raw_id: Option<String>,
}

/// A Teams Phone user extended through an ACS resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TeamsExtensionUserIdentifier {
    /// The Entra ID object id of the user.
    pub user_id: String,
    /// The user's tenant id.
    pub tenant_id: String,
    /// The ACS resource id.
    pub resource_id: String,
    /// The cloud.
    pub cloud: CommunicationCloudEnvironment,
    /// The raw id as the service sent it, when known.
    pub raw_id: Option<String>,
}

/// An identifier of a kind this crate does not model, kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownIdentifier {
    /// The raw id.
    pub id: String,
    /// The wire's `kind`, when it named one this crate does not know.
    pub kind: Option<String>,
    /// The other members the wire had (the unknown kind's own member), written back as they
    /// came.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl UnknownIdentifier {
    /// An identifier known only by its raw id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: None,
            properties: serde_json::Map::new(),
        }
    }
}

impl CommunicationIdentifier {
    /// An ACS user from its id (`8:acs:…`).
    pub fn communication_user(id: impl Into<String>) -> Self {
        Self::CommunicationUser(CommunicationUserIdentifier::new(id))
    }

    /// A phone number (E.164, e.g. `+14255550123`).
    pub fn phone_number(number: impl Into<String>) -> Self {
        Self::PhoneNumber(Box::new(PhoneNumberIdentifier {
            phone_number: number.into(),
            is_anonymous: false,
            asserted_id: None,
            raw_id: None,
        }))
    }

    /// A Microsoft Teams user in the public cloud.
    pub fn microsoft_teams_user(user_id: impl Into<String>) -> Self {
        Self::MicrosoftTeamsUser(Box::new(MicrosoftTeamsUserIdentifier {
            user_id: user_id.into(),
            is_anonymous: false,
            cloud: CommunicationCloudEnvironment::Public,
            raw_id: None,
        }))
    }

    /// A Microsoft Teams app in the public cloud.
    pub fn microsoft_teams_app(app_id: impl Into<String>) -> Self {
        Self::MicrosoftTeamsApp(Box::new(MicrosoftTeamsAppIdentifier {
            app_id: app_id.into(),
            cloud: CommunicationCloudEnvironment::Public,
            raw_id: None,
        }))
    }

    /// Parses a raw id the way the official SDKs do. Never fails: what is not recognised
    /// becomes [`CommunicationIdentifier::Unknown`]. `from_raw_id(x).raw_id() == x` always.
    pub fn from_raw_id(raw_id: &str) -> Self {
        let raw = Some(raw_id.to_owned());
        if let Some(rest) = raw_id.strip_prefix(PHONE) {
            let (number, asserted) = if raw_id == PHONE_ANONYMOUS {
                (rest.to_owned(), None)
            } else {
                match rest.rsplit_once('_') {
                    Some((n, a)) if !a.is_empty() => (n.to_owned(), Some(a.to_owned())),
                    _ => (rest.to_owned(), None),
                }
            };
            return Self::PhoneNumber(Box::new(PhoneNumberIdentifier {
                phone_number: number,
                is_anonymous: raw_id == PHONE_ANONYMOUS,
                asserted_id: asserted,
                raw_id: raw,
            }));
        }
        let teams_user = |prefix: &str, cloud, anonymous| {
            raw_id.strip_prefix(prefix).map(|id| {
                Self::MicrosoftTeamsUser(Box::new(MicrosoftTeamsUserIdentifier {
                    user_id: id.to_owned(),
                    is_anonymous: anonymous,
                    cloud,
                    raw_id: raw.clone(),
                }))
            })
        };
        let teams_app = |prefix: &str, cloud| {
            raw_id.strip_prefix(prefix).map(|id| {
                Self::MicrosoftTeamsApp(Box::new(MicrosoftTeamsAppIdentifier {
                    app_id: id.to_owned(),
                    cloud,
                    raw_id: raw.clone(),
                }))
            })
        };
        let acs = |prefix: &str, cloud| {
            raw_id.strip_prefix(prefix).map(|suffix| {
                let parts: Vec<&str> = suffix.split('_').collect();
                match parts.as_slice() {
                    [resource, tenant, user]
                        if !resource.is_empty() && !tenant.is_empty() && !user.is_empty() =>
                    {
                        Self::TeamsExtensionUser(Box::new(TeamsExtensionUserIdentifier {
                            user_id: (*user).to_owned(),
                            tenant_id: (*tenant).to_owned(),
                            resource_id: (*resource).to_owned(),
                            cloud,
                            raw_id: raw.clone(),
                        }))
                    }
                    _ => Self::communication_user(raw_id),
                }
            })
        };
        use CommunicationCloudEnvironment as Cloud;
        None.or_else(|| teams_user(TEAMS_VISITOR, Cloud::Public, true))
            .or_else(|| teams_user(TEAMS_PUBLIC, Cloud::Public, false))
            .or_else(|| teams_user(TEAMS_DOD, Cloud::Dod, false))
            .or_else(|| teams_user(TEAMS_GCCH, Cloud::Gcch, false))
            .or_else(|| teams_app(APP_PUBLIC, Cloud::Public))
            .or_else(|| teams_app(APP_DOD, Cloud::Dod))
            .or_else(|| teams_app(APP_GCCH, Cloud::Gcch))
            .or_else(|| acs(ACS, Cloud::Public))
            .or_else(|| acs(ACS_DOD, Cloud::Dod))
            .or_else(|| acs(ACS_GCCH, Cloud::Gcch))
            .or_else(|| {
                raw_id
                    .starts_with(SPOOL)
                    .then(|| Self::communication_user(raw_id))
            })
            .unwrap_or_else(|| Self::Unknown(Box::new(UnknownIdentifier::new(raw_id))))
    }

    /// The raw id: the one the service sent when known, otherwise built from the parts.
    pub fn raw_id(&self) -> Cow<'_, str> {
        match self {
            Self::CommunicationUser(u) => Cow::Borrowed(&u.id),
            Self::Unknown(u) => Cow::Borrowed(&u.id),
            Self::PhoneNumber(p) => match &p.raw_id {
                Some(raw) => Cow::Borrowed(raw),
                None if p.is_anonymous => Cow::Borrowed(PHONE_ANONYMOUS),
                None => Cow::Owned(match &p.asserted_id {
                    Some(a) => format!("{PHONE}{}_{a}", p.phone_number),
                    None => format!("{PHONE}{}", p.phone_number),
                }),
            },
            Self::MicrosoftTeamsUser(t) => match &t.raw_id {
                Some(raw) => Cow::Borrowed(raw),
                None => {
                    let prefix = if t.is_anonymous {
                        TEAMS_VISITOR
                    } else {
                        match t.cloud {
                            CommunicationCloudEnvironment::Dod => TEAMS_DOD,
                            CommunicationCloudEnvironment::Gcch => TEAMS_GCCH,
                            _ => TEAMS_PUBLIC,
                        }
                    };
                    Cow::Owned(format!("{prefix}{}", t.user_id))
                }
            },
            Self::MicrosoftTeamsApp(a) => match &a.raw_id {
                Some(raw) => Cow::Borrowed(raw),
                None => {
                    let prefix = match a.cloud {
                        CommunicationCloudEnvironment::Dod => APP_DOD,
                        CommunicationCloudEnvironment::Gcch => APP_GCCH,
                        _ => APP_PUBLIC,
                    };
                    Cow::Owned(format!("{prefix}{}", a.app_id))
                }
            },
            Self::TeamsExtensionUser(x) => match &x.raw_id {
                Some(raw) => Cow::Borrowed(raw),
                None => {
                    let prefix = match x.cloud {
                        CommunicationCloudEnvironment::Dod => ACS_DOD,
                        CommunicationCloudEnvironment::Gcch => ACS_GCCH,
                        _ => ACS,
                    };
                    Cow::Owned(format!(
                        "{prefix}{}_{}_{}",
                        x.resource_id, x.tenant_id, x.user_id
                    ))
                }
            },
        }
    }

    /// The kind, as the wire's `kind` names it (`communicationUser`, `phoneNumber`,
    /// `microsoftTeamsUser`, `microsoftTeamsApp`, `teamsExtensionUser`, or for an unknown kind
    /// what the wire said, else `unknown`).
    pub fn kind(&self) -> &str {
        match self {
            Self::CommunicationUser(_) => COMMUNICATION_USER,
            Self::PhoneNumber(_) => PHONE_NUMBER,
            Self::MicrosoftTeamsUser(_) => TEAMS_USER,
            Self::MicrosoftTeamsApp(_) => TEAMS_APP,
            Self::TeamsExtensionUser(_) => TEAMS_EXTENSION_USER,
            Self::Unknown(u) => u.kind.as_deref().unwrap_or(UNKNOWN),
        }
    }
}

const COMMUNICATION_USER: &str = "communicationUser";
const PHONE_NUMBER: &str = "phoneNumber";
const TEAMS_USER: &str = "microsoftTeamsUser";
const TEAMS_APP: &str = "microsoftTeamsApp";
const TEAMS_EXTENSION_USER: &str = "teamsExtensionUser";
const UNKNOWN: &str = "unknown";

/// Equal when the raw ids are.
impl PartialEq for CommunicationIdentifier {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::CommunicationUser(a), Self::CommunicationUser(b)) => a.id == b.id,
            _ => self.raw_id() == other.raw_id(),
        }
    }
}

impl Eq for CommunicationIdentifier {}

/// Hashes the raw id, as equality compares it.
impl Hash for CommunicationIdentifier {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw_id().hash(state);
    }
}

impl fmt::Display for CommunicationIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw_id())
    }
}

impl std::str::FromStr for CommunicationIdentifier {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_raw_id(s))
    }
}

// ---- the wire shape ----------------------------------------------------------------------

/// A string borrowed from the input when it can be (serde's own `Cow<str>` always copies):
/// keys, `kind` and `rawId` are mostly looked at, not kept.
struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[derive(Serialize, Deserialize)]
struct UserMember<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneMember<'a> {
    #[serde(borrow)]
    value: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_anonymous: Option<bool>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    asserted_id: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamsUserMember<'a> {
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_anonymous: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cloud: Option<CommunicationCloudEnvironment>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamsAppMember<'a> {
    #[serde(borrow)]
    app_id: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cloud: Option<CommunicationCloudEnvironment>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExtensionMember<'a> {
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    tenant_id: Cow<'a, str>,
    #[serde(borrow)]
    resource_id: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cloud: Option<CommunicationCloudEnvironment>,
}

/// `kind`, `rawId` and the kind's member; an unknown kind's members as they came. The shape the
/// service sends in responses, and a valid request shape (`kind` is optional in requests).
impl Serialize for CommunicationIdentifier {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let extra = match self {
            Self::Unknown(u) => u.properties.len(),
            _ => 1,
        };
        let mut map = serializer.serialize_map(Some(2 + extra))?;
        map.serialize_entry("kind", self.kind())?;
        map.serialize_entry("rawId", &self.raw_id())?;
        let cloud = |c: &CommunicationCloudEnvironment| Some(c.clone());
        match self {
            Self::CommunicationUser(u) => map.serialize_entry(
                COMMUNICATION_USER,
                &UserMember {
                    id: Cow::Borrowed(&u.id),
                },
            )?,
            Self::PhoneNumber(p) => map.serialize_entry(
                PHONE_NUMBER,
                &PhoneMember {
                    value: Cow::Borrowed(&p.phone_number),
                    is_anonymous: p.is_anonymous.then_some(true),
                    asserted_id: p.asserted_id.as_deref().map(Cow::Borrowed),
                },
            )?,
            Self::MicrosoftTeamsUser(t) => map.serialize_entry(
                TEAMS_USER,
                &TeamsUserMember {
                    user_id: Cow::Borrowed(&t.user_id),
                    is_anonymous: t.is_anonymous.then_some(true),
                    cloud: cloud(&t.cloud),
                },
            )?,
            Self::MicrosoftTeamsApp(a) => map.serialize_entry(
                TEAMS_APP,
                &TeamsAppMember {
                    app_id: Cow::Borrowed(&a.app_id),
                    cloud: cloud(&a.cloud),
                },
            )?,
            Self::TeamsExtensionUser(x) => map.serialize_entry(
                TEAMS_EXTENSION_USER,
                &ExtensionMember {
                    user_id: Cow::Borrowed(&x.user_id),
                    tenant_id: Cow::Borrowed(&x.tenant_id),
                    resource_id: Cow::Borrowed(&x.resource_id),
                    cloud: cloud(&x.cloud),
                },
            )?,
            Self::Unknown(u) => {
                for (name, value) in &u.properties {
                    map.serialize_entry(name, value)?;
                }
            }
        }
        map.end()
    }
}

/// The kind-specific member when present (with `kind` deciding when several are), otherwise
/// the raw id; an unknown `kind` is kept whole.
impl<'de> Deserialize<'de> for CommunicationIdentifier {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(IdentifierVisitor)
    }
}

struct IdentifierVisitor;

impl<'de> Visitor<'de> for IdentifierVisitor {
    type Value = CommunicationIdentifier;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CommunicationIdentifierModel object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kind: Option<Cow<'de, str>> = None;
        let mut raw: Option<Cow<'de, str>> = None;
        let mut user: Option<UserMember<'de>> = None;
        let mut phone: Option<PhoneMember<'de>> = None;
        let mut teams_user: Option<TeamsUserMember<'de>> = None;
        let mut teams_app: Option<TeamsAppMember<'de>> = None;
        let mut extension: Option<ExtensionMember<'de>> = None;
        let mut others = serde_json::Map::new();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            match &*key {
                "kind" => kind = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                "rawId" => raw = map.next_value::<Option<Str<'de>>>()?.map(|s| s.0),
                COMMUNICATION_USER => user = map.next_value()?,
                PHONE_NUMBER => phone = map.next_value()?,
                TEAMS_USER => teams_user = map.next_value()?,
                TEAMS_APP => teams_app = map.next_value()?,
                TEAMS_EXTENSION_USER => extension = map.next_value()?,
                // Kept in case `kind` (which may come later) turns out to be unknown; there
                // are none in the shapes this crate knows.
                _ => {
                    let value = map.next_value()?;
                    others.insert(key.into_owned(), value);
                }
            }
        }
        let wants = |k: &str| kind.as_deref().is_none_or(|have| have == k);
        let owned = |c: Cow<'_, str>| c.into_owned();
        let cloud = |c: Option<CommunicationCloudEnvironment>| {
            c.unwrap_or(CommunicationCloudEnvironment::Public)
        };
        if let (Some(u), true) = (user, wants(COMMUNICATION_USER)) {
            return Ok(CommunicationIdentifier::communication_user(owned(u.id)));
        }
        if let (Some(p), true) = (phone, wants(PHONE_NUMBER)) {
            return Ok(CommunicationIdentifier::PhoneNumber(Box::new(
                PhoneNumberIdentifier {
                    phone_number: owned(p.value),
                    is_anonymous: p.is_anonymous.unwrap_or(false),
                    asserted_id: p.asserted_id.map(owned),
                    raw_id: raw.map(owned),
                },
            )));
        }
        if let (Some(t), true) = (teams_user, wants(TEAMS_USER)) {
            return Ok(CommunicationIdentifier::MicrosoftTeamsUser(Box::new(
                MicrosoftTeamsUserIdentifier {
                    user_id: owned(t.user_id),
                    is_anonymous: t.is_anonymous.unwrap_or(false),
                    cloud: cloud(t.cloud),
                    raw_id: raw.map(owned),
                },
            )));
        }
        if let (Some(a), true) = (teams_app, wants(TEAMS_APP)) {
            return Ok(CommunicationIdentifier::MicrosoftTeamsApp(Box::new(
                MicrosoftTeamsAppIdentifier {
                    app_id: owned(a.app_id),
                    cloud: cloud(a.cloud),
                    raw_id: raw.map(owned),
                },
            )));
        }
        if let (Some(x), true) = (extension, wants(TEAMS_EXTENSION_USER)) {
            return Ok(CommunicationIdentifier::TeamsExtensionUser(Box::new(
                TeamsExtensionUserIdentifier {
                    user_id: owned(x.user_id),
                    tenant_id: owned(x.tenant_id),
                    resource_id: owned(x.resource_id),
                    cloud: cloud(x.cloud),
                    raw_id: raw.map(owned),
                },
            )));
        }
        let raw = raw.unwrap_or_default();
        match kind {
            Some(k) if !kind_is_known(Some(&k)) => Ok(CommunicationIdentifier::Unknown(Box::new(
                UnknownIdentifier {
                    id: raw.into_owned(),
                    kind: Some(k.into_owned()),
                    properties: others,
                },
            ))),
            _ => Ok(CommunicationIdentifier::from_raw_id(&raw)),
        }
    }
}

/// Whether `kind` is one this crate models (or `unknown`, or absent): then members it does not
/// know are dropped like any unknown field; under an unknown kind they are kept.
fn kind_is_known(kind: Option<&str>) -> bool {
    match kind {
        None => true,
        Some(k) => matches!(
            k,
            COMMUNICATION_USER
                | PHONE_NUMBER
                | TEAMS_USER
                | TEAMS_APP
                | TEAMS_EXTENSION_USER
                | UNKNOWN
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommunicationCloudEnvironment as Cloud;

    #[test]
    fn an_identifier_is_the_size_of_a_string() {
        // The rarer kinds are boxed (see the type's docs); an inline one would make every
        // model that carries an identifier larger again.
        assert_eq!(size_of::<CommunicationIdentifier>(), size_of::<String>());
    }

    #[test]
    fn raw_ids_parse_like_the_official_sdks() {
        let user =
            "8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_c94ff260-162d-46d6-94fd-e79f4d213715";
        assert_eq!(
            CommunicationIdentifier::from_raw_id(user),
            CommunicationIdentifier::communication_user(user)
        );
        for spool in ["8:spool:abc", "8:dod-acs:r_u", "8:gcch-acs:r_u"] {
            assert!(matches!(
                CommunicationIdentifier::from_raw_id(spool),
                CommunicationIdentifier::CommunicationUser(_)
            ));
        }
        match CommunicationIdentifier::from_raw_id("4:+14255550123") {
            CommunicationIdentifier::PhoneNumber(p) => {
                assert_eq!(p.phone_number, "+14255550123");
                assert!(!p.is_anonymous);
            }
            other => panic!("{other:?}"),
        }
        match CommunicationIdentifier::from_raw_id("4:+14255550123_abc") {
            CommunicationIdentifier::PhoneNumber(p) => {
                assert_eq!(p.phone_number, "+14255550123");
                assert_eq!(p.asserted_id.as_deref(), Some("abc"));
            }
            other => panic!("{other:?}"),
        }
        match CommunicationIdentifier::from_raw_id("4:anonymous") {
            CommunicationIdentifier::PhoneNumber(p) => assert!(p.is_anonymous),
            other => panic!("{other:?}"),
        }
        let cases = [
            ("8:orgid:u1", Cloud::Public, false),
            ("8:dod:u1", Cloud::Dod, false),
            ("8:gcch:u1", Cloud::Gcch, false),
            ("8:teamsvisitor:u1", Cloud::Public, true),
        ];
        for (raw, cloud, anon) in cases {
            match CommunicationIdentifier::from_raw_id(raw) {
                CommunicationIdentifier::MicrosoftTeamsUser(t) => {
                    assert_eq!(
                        (t.user_id.as_str(), t.cloud, t.is_anonymous),
                        ("u1", cloud, anon)
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        for (raw, cloud) in [
            ("28:orgid:a", Cloud::Public),
            ("28:dod:a", Cloud::Dod),
            ("28:gcch:a", Cloud::Gcch),
        ] {
            match CommunicationIdentifier::from_raw_id(raw) {
                CommunicationIdentifier::MicrosoftTeamsApp(a) => {
                    assert_eq!((a.app_id.as_str(), a.cloud), ("a", cloud))
                }
                other => panic!("{other:?}"),
            }
        }
        match CommunicationIdentifier::from_raw_id("8:acs:res_ten_usr") {
            CommunicationIdentifier::TeamsExtensionUser(x) => {
                assert_eq!(
                    (
                        x.resource_id.as_str(),
                        x.tenant_id.as_str(),
                        x.user_id.as_str()
                    ),
                    ("res", "ten", "usr")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            CommunicationIdentifier::from_raw_id("48:something"),
            CommunicationIdentifier::Unknown(_)
        ));
    }

    #[test]
    fn built_identifiers_have_sdk_raw_ids() {
        assert_eq!(
            CommunicationIdentifier::phone_number("+1425").raw_id(),
            "4:+1425"
        );
        assert_eq!(
            CommunicationIdentifier::microsoft_teams_user("u").raw_id(),
            "8:orgid:u"
        );
        assert_eq!(
            CommunicationIdentifier::microsoft_teams_app("a").raw_id(),
            "28:orgid:a"
        );
    }

    fn round_trip(json: serde_json::Value) -> CommunicationIdentifier {
        let id: CommunicationIdentifier = serde_json::from_value(json.clone()).unwrap();
        let back: CommunicationIdentifier =
            serde_json::from_value(serde_json::to_value(&id).unwrap()).unwrap();
        assert_eq!(back, id, "{json}");
        id
    }

    #[test]
    fn the_wire_shape_is_kind_raw_id_and_member() {
        let id = CommunicationIdentifier::communication_user("8:acs:r_u");
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!({"kind": "communicationUser", "rawId": "8:acs:r_u", "communicationUser": {"id": "8:acs:r_u"}})
        );
        assert_eq!(
            serde_json::to_value(CommunicationIdentifier::phone_number("+1425")).unwrap(),
            serde_json::json!({"kind": "phoneNumber", "rawId": "4:+1425", "phoneNumber": {"value": "+1425"}})
        );
        let id =
            round_trip(serde_json::json!({"rawId": "8:orgid:x", "kind": "microsoftTeamsUser"}));
        assert!(matches!(id, CommunicationIdentifier::MicrosoftTeamsUser(_)));
        let id = round_trip(
            serde_json::json!({"rawId": "8:acs:a_b", "communicationUser": {"id": "8:acs:a_b"}}),
        );
        assert_eq!(id, CommunicationIdentifier::communication_user("8:acs:a_b"));
    }

    #[test]
    fn an_unknown_kind_is_kept_whole() {
        let json = serde_json::json!({"kind": "botUser", "rawId": "99:bot", "botUser": {"botId": "b", "n": 1}});
        let id = round_trip(json.clone());
        match &id {
            CommunicationIdentifier::Unknown(u) => {
                assert_eq!(u.kind.as_deref(), Some("botUser"));
                assert_eq!(u.id, "99:bot");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(serde_json::to_value(&id).unwrap(), json);
        assert_eq!(id.kind(), "botUser");
    }

    #[test]
    fn equality_is_by_raw_id() {
        let from_wire: CommunicationIdentifier = serde_json::from_str(
            r#"{"kind":"phoneNumber","rawId":"4:+1425","phoneNumber":{"value":"+1425"}}"#,
        )
        .unwrap();
        assert_eq!(from_wire, CommunicationIdentifier::phone_number("+1425"));
        assert_eq!(
            CommunicationIdentifier::from_raw_id("8:acs:r_u"),
            CommunicationIdentifier::communication_user("8:acs:r_u")
        );
        assert_ne!(
            CommunicationIdentifier::communication_user("8:acs:r_u"),
            CommunicationIdentifier::communication_user("8:acs:r_v")
        );
        let set: std::collections::HashSet<_> =
            [from_wire, CommunicationIdentifier::phone_number("+1425")].into();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn malformed_identifiers_are_errors() {
        for bad in [
            r#""8:acs:x""#,
            r#"{"communicationUser": 5}"#,
            r#"{"rawId": 5}"#,
            "[]",
        ] {
            assert!(
                serde_json::from_str::<CommunicationIdentifier>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
