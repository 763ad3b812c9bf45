//! [`CommunicationIdentifier`]: an ergonomic view of `CommunicationIdentifierModel`, with the
//! official SDKs' raw id rules (`8:acs:…`, `4:+1…`, `8:orgid:…`, `28:orgid:…`, …).

use std::fmt;

use crate::models::{
    CommunicationCloudEnvironment, CommunicationIdentifierModel, CommunicationIdentifierModelKind,
    CommunicationUserIdentifierModel, MicrosoftTeamsAppIdentifierModel,
    MicrosoftTeamsUserIdentifierModel, PhoneNumberIdentifierModel,
    TeamsExtensionUserIdentifierModel,
};

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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommunicationIdentifier {
    /// An ACS user (`8:acs:<resource>_<id>`).
    CommunicationUser(CommunicationUserIdentifier),
    /// A phone number (`4:+14255550123`).
    PhoneNumber(PhoneNumberIdentifier),
    /// A Microsoft Teams user (`8:orgid:<entra object id>`).
    MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier),
    /// A Microsoft Teams application (`28:orgid:<app id>`).
    MicrosoftTeamsApp(MicrosoftTeamsAppIdentifier),
    /// A Teams Phone extension user (`8:acs:<resource>_<tenant>_<user>`).
    TeamsExtensionUser(TeamsExtensionUserIdentifier),
    /// Anything else, kept as its raw id.
    Unknown(UnknownIdentifier),
}

/// An ACS user; its id is its raw id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommunicationUserIdentifier {
    /// The full id, e.g. `8:acs:8540c0de-…_c94ff260-…`.
    pub id: String,
}

/// A phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// An identifier of a kind this crate does not model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownIdentifier {
    /// The raw id.
    pub id: String,
}

impl CommunicationIdentifier {
    /// An ACS user from its id (`8:acs:…`).
    pub fn communication_user(id: impl Into<String>) -> Self {
        Self::CommunicationUser(CommunicationUserIdentifier { id: id.into() })
    }

    /// A phone number (E.164, e.g. `+14255550123`).
    pub fn phone_number(number: impl Into<String>) -> Self {
        Self::PhoneNumber(PhoneNumberIdentifier {
            phone_number: number.into(),
            is_anonymous: false,
            asserted_id: None,
            raw_id: None,
        })
    }

    /// A Microsoft Teams user in the public cloud.
    pub fn microsoft_teams_user(user_id: impl Into<String>) -> Self {
        Self::MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier {
            user_id: user_id.into(),
            is_anonymous: false,
            cloud: CommunicationCloudEnvironment::Public,
            raw_id: None,
        })
    }

    /// A Microsoft Teams app in the public cloud.
    pub fn microsoft_teams_app(app_id: impl Into<String>) -> Self {
        Self::MicrosoftTeamsApp(MicrosoftTeamsAppIdentifier {
            app_id: app_id.into(),
            cloud: CommunicationCloudEnvironment::Public,
            raw_id: None,
        })
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
            return Self::PhoneNumber(PhoneNumberIdentifier {
                phone_number: number,
                is_anonymous: raw_id == PHONE_ANONYMOUS,
                asserted_id: asserted,
                raw_id: raw,
            });
        }
        let teams_user = |prefix: &str, cloud, anonymous| {
            raw_id.strip_prefix(prefix).map(|id| {
                Self::MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier {
                    user_id: id.to_owned(),
                    is_anonymous: anonymous,
                    cloud,
                    raw_id: raw.clone(),
                })
            })
        };
        let teams_app = |prefix: &str, cloud| {
            raw_id.strip_prefix(prefix).map(|id| {
                Self::MicrosoftTeamsApp(MicrosoftTeamsAppIdentifier {
                    app_id: id.to_owned(),
                    cloud,
                    raw_id: raw.clone(),
                })
            })
        };
        let acs = |prefix: &str, cloud| {
            raw_id.strip_prefix(prefix).map(|suffix| {
                let parts: Vec<&str> = suffix.split('_').collect();
                match parts.as_slice() {
                    [resource, tenant, user]
                        if !resource.is_empty() && !tenant.is_empty() && !user.is_empty() =>
                    {
                        Self::TeamsExtensionUser(TeamsExtensionUserIdentifier {
                            user_id: (*user).to_owned(),
                            tenant_id: (*tenant).to_owned(),
                            resource_id: (*resource).to_owned(),
                            cloud,
                            raw_id: raw.clone(),
                        })
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
            .unwrap_or_else(|| {
                Self::Unknown(UnknownIdentifier {
                    id: raw_id.to_owned(),
                })
            })
    }

    /// The raw id: the one the service sent when known, otherwise built from the parts.
    pub fn raw_id(&self) -> String {
        match self {
            Self::CommunicationUser(u) => u.id.clone(),
            Self::Unknown(u) => u.id.clone(),
            Self::PhoneNumber(p) => p.raw_id.clone().unwrap_or_else(|| {
                if p.is_anonymous {
                    PHONE_ANONYMOUS.to_owned()
                } else if let Some(a) = &p.asserted_id {
                    format!("{PHONE}{}_{a}", p.phone_number)
                } else {
                    format!("{PHONE}{}", p.phone_number)
                }
            }),
            Self::MicrosoftTeamsUser(t) => t.raw_id.clone().unwrap_or_else(|| {
                let prefix = if t.is_anonymous {
                    TEAMS_VISITOR
                } else {
                    match t.cloud {
                        CommunicationCloudEnvironment::Dod => TEAMS_DOD,
                        CommunicationCloudEnvironment::Gcch => TEAMS_GCCH,
                        _ => TEAMS_PUBLIC,
                    }
                };
                format!("{prefix}{}", t.user_id)
            }),
            Self::MicrosoftTeamsApp(a) => a.raw_id.clone().unwrap_or_else(|| {
                let prefix = match a.cloud {
                    CommunicationCloudEnvironment::Dod => APP_DOD,
                    CommunicationCloudEnvironment::Gcch => APP_GCCH,
                    _ => APP_PUBLIC,
                };
                format!("{prefix}{}", a.app_id)
            }),
            Self::TeamsExtensionUser(x) => x.raw_id.clone().unwrap_or_else(|| {
                let prefix = match x.cloud {
                    CommunicationCloudEnvironment::Dod => ACS_DOD,
                    CommunicationCloudEnvironment::Gcch => ACS_GCCH,
                    _ => ACS,
                };
                format!("{prefix}{}_{}_{}", x.resource_id, x.tenant_id, x.user_id)
            }),
        }
    }

    /// The kind, as the wire names it.
    pub fn kind(&self) -> CommunicationIdentifierModelKind {
        match self {
            Self::CommunicationUser(_) => CommunicationIdentifierModelKind::CommunicationUser,
            Self::PhoneNumber(_) => CommunicationIdentifierModelKind::PhoneNumber,
            Self::MicrosoftTeamsUser(_) => CommunicationIdentifierModelKind::MicrosoftTeamsUser,
            Self::MicrosoftTeamsApp(_) => CommunicationIdentifierModelKind::MicrosoftTeamsApp,
            Self::TeamsExtensionUser(_) => CommunicationIdentifierModelKind::TeamsExtensionUser,
            Self::Unknown(_) => CommunicationIdentifierModelKind::Unknown,
        }
    }

    /// The wire model for a request: `rawId` plus the kind-specific member (no `kind`, which the
    /// spec requires only in responses; the official SDKs send the same shape).
    pub fn to_model(&self) -> CommunicationIdentifierModel {
        let mut m = CommunicationIdentifierModel::new();
        m.raw_id = Some(self.raw_id());
        let cloud = |c: &CommunicationCloudEnvironment| Some(c.clone());
        match self {
            Self::CommunicationUser(u) => {
                m.communication_user = Some(CommunicationUserIdentifierModel::new(u.id.clone()));
            }
            Self::PhoneNumber(p) => {
                let mut pm = PhoneNumberIdentifierModel::new(p.phone_number.clone());
                pm.is_anonymous = p.is_anonymous.then_some(true);
                pm.asserted_id = p.asserted_id.clone();
                m.phone_number = Some(pm);
            }
            Self::MicrosoftTeamsUser(t) => {
                let mut tm = MicrosoftTeamsUserIdentifierModel::new(t.user_id.clone());
                tm.is_anonymous = t.is_anonymous.then_some(true);
                tm.cloud = cloud(&t.cloud);
                m.microsoft_teams_user = Some(tm);
            }
            Self::MicrosoftTeamsApp(a) => {
                let mut am = MicrosoftTeamsAppIdentifierModel::new(a.app_id.clone());
                am.cloud = cloud(&a.cloud);
                m.microsoft_teams_app = Some(am);
            }
            Self::TeamsExtensionUser(x) => {
                let mut xm = TeamsExtensionUserIdentifierModel::new(
                    x.user_id.clone(),
                    x.tenant_id.clone(),
                    x.resource_id.clone(),
                );
                xm.cloud = cloud(&x.cloud);
                m.teams_extension_user = Some(xm);
            }
            Self::Unknown(_) => {}
        }
        m
    }

    /// Reads a wire model: the kind-specific member when present (with `kind` deciding when
    /// several are), otherwise the raw id.
    pub fn from_model(model: &CommunicationIdentifierModel) -> Self {
        use CommunicationIdentifierModelKind as K;
        let raw = model.raw_id.clone();
        let kind = model.kind.clone();
        let wants = |k: K| kind.as_ref().is_none_or(|have| *have == k);
        if let (Some(u), true) = (&model.communication_user, wants(K::CommunicationUser)) {
            return Self::communication_user(u.id.clone());
        }
        if let (Some(p), true) = (&model.phone_number, wants(K::PhoneNumber)) {
            return Self::PhoneNumber(PhoneNumberIdentifier {
                phone_number: p.value.clone(),
                is_anonymous: p.is_anonymous.unwrap_or(false),
                asserted_id: p.asserted_id.clone(),
                raw_id: raw,
            });
        }
        if let (Some(t), true) = (&model.microsoft_teams_user, wants(K::MicrosoftTeamsUser)) {
            return Self::MicrosoftTeamsUser(MicrosoftTeamsUserIdentifier {
                user_id: t.user_id.clone(),
                is_anonymous: t.is_anonymous.unwrap_or(false),
                cloud: t
                    .cloud
                    .clone()
                    .unwrap_or(CommunicationCloudEnvironment::Public),
                raw_id: raw,
            });
        }
        if let (Some(a), true) = (&model.microsoft_teams_app, wants(K::MicrosoftTeamsApp)) {
            return Self::MicrosoftTeamsApp(MicrosoftTeamsAppIdentifier {
                app_id: a.app_id.clone(),
                cloud: a
                    .cloud
                    .clone()
                    .unwrap_or(CommunicationCloudEnvironment::Public),
                raw_id: raw,
            });
        }
        if let (Some(x), true) = (&model.teams_extension_user, wants(K::TeamsExtensionUser)) {
            return Self::TeamsExtensionUser(TeamsExtensionUserIdentifier {
                user_id: x.user_id.clone(),
                tenant_id: x.tenant_id.clone(),
                resource_id: x.resource_id.clone(),
                cloud: x
                    .cloud
                    .clone()
                    .unwrap_or(CommunicationCloudEnvironment::Public),
                raw_id: raw,
            });
        }
        Self::from_raw_id(raw.as_deref().unwrap_or_default())
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

impl From<&CommunicationIdentifier> for CommunicationIdentifierModel {
    fn from(value: &CommunicationIdentifier) -> Self {
        value.to_model()
    }
}

impl From<CommunicationIdentifier> for CommunicationIdentifierModel {
    fn from(value: CommunicationIdentifier) -> Self {
        value.to_model()
    }
}

impl From<&CommunicationIdentifierModel> for CommunicationIdentifier {
    fn from(value: &CommunicationIdentifierModel) -> Self {
        Self::from_model(value)
    }
}

impl From<CommunicationIdentifierModel> for CommunicationIdentifier {
    fn from(value: CommunicationIdentifierModel) -> Self {
        Self::from_model(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommunicationCloudEnvironment as Cloud;

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

    #[test]
    fn request_model_is_raw_id_plus_member() {
        let id = CommunicationIdentifier::communication_user("8:acs:r_u");
        let json = serde_json::to_value(id.to_model()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"rawId": "8:acs:r_u", "communicationUser": {"id": "8:acs:r_u"}})
        );
        assert_eq!(CommunicationIdentifier::from_model(&id.to_model()), id);
    }

    #[test]
    fn response_model_with_only_raw_id() {
        let m: CommunicationIdentifierModel =
            serde_json::from_str(r#"{"rawId":"8:orgid:x","kind":"microsoftTeamsUser"}"#).unwrap();
        assert!(matches!(
            CommunicationIdentifier::from_model(&m),
            CommunicationIdentifier::MicrosoftTeamsUser(_)
        ));
    }
}
