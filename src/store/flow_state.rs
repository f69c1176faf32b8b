//! What a `flows` row means: a login's origin and its state, each step with
//! exactly its data, read through `TryFrom` (the queries are in `flows`).

use crate::ids::{DepartmentId, FlowId, IdentityId, UpstreamId};

/// A login as stored: how it began and where it is now, each step with
/// exactly the data it has. Read from its row through `TryFrom`: a row that
/// makes no sense (an unknown state, a step without its data) is an error,
/// never a login with holes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub id: FlowId,
    pub browser_hash: String,
    pub origin: Origin,
    pub state: FlowState,
    pub created_at: i64,
    pub expires_at: i64,
}

/// How a login began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A Matrix client at the bridge: the login ends at its `redirectUrl`.
    Client { redirect_url: String },
    /// A department homeserver's `authorize` (the user opened it directly):
    /// its request waits, sealed for this browser, until the IdP has answered.
    Homeserver { pending_authorize: String },
}

/// Who the IdP said the user is, kept from authentication to the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub department: DepartmentId,
    pub upstream: UpstreamId,
    pub identity: IdentityId,
    /// The IdP's session reference and NameID of this login, hashed (single logout).
    pub upstream_session_hash: Option<String>,
    pub upstream_name_id_hash: Option<String>,
}

/// Where a login is. Its steps, in order; every change is a compare-and-set
/// below (`flow_to_upstream`, `authenticate_flow`, `authorize_flow`,
/// `complete_flow`, `fail_flow`), so a step never runs twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowState {
    /// Stored when a client's login leaves the picker (its department is
    /// chosen on the way upstream), or when a homeserver's begins (known).
    Started { department: Option<DepartmentId> },
    /// Sent to the department's IdP, waiting for its answer.
    Upstream {
        department: DepartmentId,
        upstream: UpstreamId,
    },
    /// The IdP vouched for the user; the homeserver's `authorize` comes next.
    Authenticated(Login),
    /// A code was issued to the department's homeserver.
    Authorized(Login),
    /// The homeserver's login token went to the client (or, for a
    /// homeserver's own login, the code went to it).
    Completed(Login),
    /// Ended by a refusal; kept for "Start again" and the operator.
    Failed {
        department: Option<DepartmentId>,
        reason: String,
    },
}

impl FlowState {
    /// The department, once the login has one.
    pub fn department(&self) -> Option<&DepartmentId> {
        match self {
            Self::Started { department } | Self::Failed { department, .. } => department.as_ref(),
            Self::Upstream { department, .. } => Some(department),
            Self::Authenticated(login) | Self::Authorized(login) | Self::Completed(login) => {
                Some(&login.department)
            }
        }
    }

    /// The IdP's verdict, from authentication on.
    pub fn login(&self) -> Option<&Login> {
        match self {
            Self::Authenticated(login) | Self::Authorized(login) | Self::Completed(login) => {
                Some(login)
            }
            _ => None,
        }
    }
}

/// The `state` column's values: the one place they are written. Queries bind
/// or embed `as_str()`; rows are read back through `parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StateName {
    Started,
    Upstream,
    Authenticated,
    Authorized,
    Completed,
    Failed,
}

impl StateName {
    const ALL: [Self; 6] = [
        Self::Started,
        Self::Upstream,
        Self::Authenticated,
        Self::Authorized,
        Self::Completed,
        Self::Failed,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Upstream => "upstream",
            Self::Authenticated => "authenticated",
            Self::Authorized => "authorized",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == value)
            .ok_or_else(|| format!("unknown flow state {value:?}"))
    }
}

/// The `origin` column's values.
pub(super) const CLIENT: &str = "client";
pub(super) const HOMESERVER: &str = "homeserver";

/// A `flows` row as the database has it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct FlowRow {
    id: String,
    browser_hash: String,
    origin: String,
    redirect_url: Option<String>,
    department: Option<String>,
    state: String,
    upstream_id: Option<String>,
    pending_authorize: Option<String>,
    identity_id: Option<String>,
    failure: Option<String>,
    upstream_session_hash: Option<String>,
    upstream_name_id_hash: Option<String>,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<FlowRow> for Flow {
    type Error = String;

    fn try_from(row: FlowRow) -> Result<Self, String> {
        let missing = |what: &str| format!("flow {}: {} without {what}", row.id, row.state);
        let origin = match row.origin.as_str() {
            CLIENT => Origin::Client {
                redirect_url: row
                    .redirect_url
                    .clone()
                    .ok_or_else(|| missing("redirect URL"))?,
            },
            HOMESERVER => Origin::Homeserver {
                pending_authorize: row
                    .pending_authorize
                    .clone()
                    .ok_or_else(|| missing("its authorization request"))?,
            },
            other => return Err(format!("unknown flow origin {other:?}")),
        };
        let department = row.department.clone().map(DepartmentId::from);
        let upstream = || {
            row.upstream_id
                .clone()
                .map(UpstreamId::from)
                .ok_or_else(|| missing("IdP"))
        };
        let login = || -> Result<Login, String> {
            Ok(Login {
                department: department.clone().ok_or_else(|| missing("department"))?,
                upstream: upstream()?,
                identity: row
                    .identity_id
                    .clone()
                    .map(IdentityId::from)
                    .ok_or_else(|| missing("identity"))?,
                upstream_session_hash: row.upstream_session_hash.clone(),
                upstream_name_id_hash: row.upstream_name_id_hash.clone(),
            })
        };
        let state = match StateName::parse(&row.state)? {
            StateName::Started => FlowState::Started {
                department: department.clone(),
            },
            StateName::Upstream => FlowState::Upstream {
                department: department.clone().ok_or_else(|| missing("department"))?,
                upstream: upstream()?,
            },
            StateName::Authenticated => FlowState::Authenticated(login()?),
            StateName::Authorized => FlowState::Authorized(login()?),
            StateName::Completed => FlowState::Completed(login()?),
            StateName::Failed => FlowState::Failed {
                department: department.clone(),
                reason: row.failure.clone().ok_or_else(|| missing("reason"))?,
            },
        };
        Ok(Flow {
            id: FlowId::from(row.id),
            browser_hash: row.browser_hash,
            origin,
            state,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

/// A new login, stored in state `started`.
pub struct NewFlow<'a> {
    pub id: &'a FlowId,
    pub browser_hash: &'a str,
    pub origin: &'a Origin,
    pub department: Option<&'a DepartmentId>,
    pub now: i64,
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(origin: &str, state: &str) -> FlowRow {
        FlowRow {
            id: "f1".into(),
            browser_hash: "b".into(),
            origin: origin.into(),
            redirect_url: Some("https://app.example/cb".into()),
            department: Some("eng".into()),
            state: state.into(),
            upstream_id: Some("university".into()),
            pending_authorize: None,
            identity_id: Some("i1".into()),
            failure: None,
            upstream_session_hash: None,
            upstream_name_id_hash: None,
            created_at: 1,
            expires_at: 2,
        }
    }

    #[test]
    fn every_state_reads_back_with_its_data_and_nothing_else_reads() {
        for name in StateName::ALL {
            assert_eq!(StateName::parse(name.as_str()), Ok(name));
        }
        assert!(StateName::parse("Started").is_err());
        let flow = Flow::try_from(row(CLIENT, "authorized")).unwrap();
        assert_eq!(
            flow.origin,
            Origin::Client {
                redirect_url: "https://app.example/cb".into()
            }
        );
        let login = flow.state.login().unwrap();
        assert_eq!(
            (
                login.department.as_str(),
                login.upstream.as_str(),
                login.identity.as_str()
            ),
            ("eng", "university", "i1")
        );
        assert!(matches!(flow.state, FlowState::Authorized(_)));
        assert!(Flow::try_from(row("web", "started")).is_err());
        assert!(Flow::try_from(row(CLIENT, "done")).is_err());
    }

    #[test]
    fn a_step_without_its_data_is_an_error_not_a_login_with_holes() {
        let mut no_identity = row(CLIENT, "authenticated");
        no_identity.identity_id = None;
        assert!(Flow::try_from(no_identity).is_err());
        let mut no_upstream = row(CLIENT, "upstream");
        no_upstream.upstream_id = None;
        assert!(Flow::try_from(no_upstream).is_err());
        let mut no_request = row(HOMESERVER, "started");
        no_request.redirect_url = None;
        assert!(Flow::try_from(no_request.clone()).is_err());
        no_request.pending_authorize = Some("sealed".into());
        assert!(Flow::try_from(no_request).is_ok());
        let mut no_reason = row(CLIENT, "failed");
        no_reason.failure = None;
        assert!(Flow::try_from(no_reason).is_err());
        let mut started = row(CLIENT, "started");
        started.department = None;
        started.upstream_id = None;
        started.identity_id = None;
        assert_eq!(
            Flow::try_from(started).unwrap().state,
            FlowState::Started { department: None }
        );
    }
}
