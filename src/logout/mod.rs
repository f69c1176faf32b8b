//! Ending sessions everywhere a login reached: each department session ended
//! in the database with its logout token queued in the same transaction, the
//! token-validation cache dropped for the person, and the queue worked off by
//! `delivery` (OIDC Back-Channel Logout to each homeserver) until the
//! homeserver takes it. What ends them: an upstream IdP's logout (`upstream`),
//! or an admin (`sso-bridge sessions end`).

pub mod delivery;
mod token;
pub mod upstream;

use crate::services::Services;
use crate::store::{SessionFilter, SessionRow, StoreResult};

/// What ended a session (the metric's `cause` label).
#[derive(Debug, Clone, Copy)]
pub enum Cause {
    OidcLogout,
    SamlLogout,
    Admin,
}

impl Cause {
    fn label(self) -> &'static str {
        match self {
            Self::OidcLogout => "oidc_logout",
            Self::SamlLogout => "saml_logout",
            Self::Admin => "admin",
        }
    }
}

/// Ends every live session `filter` names; returns those this call ended (a
/// session ends once, whoever asks again).
pub async fn end_sessions(
    services: &Services,
    filter: &SessionFilter<'_>,
    cause: Cause,
) -> StoreResult<Vec<SessionRow>> {
    let now = services.now();
    let give_up_at = now + services.config.logout.give_up_after_seconds;
    let mut ended = Vec::new();
    for session in services.store.sessions(filter, false).await? {
        let delivery_id = services.random.id();
        if services
            .store
            .end_session(&session, &delivery_id, now, give_up_at)
            .await?
        {
            services
                .metrics
                .session_ended(&session.department, cause.label());
            ended.push(session);
        }
    }
    for session in &ended {
        if let Some(user_id) = user_id(services, session) {
            services.introspector.forget_user(&user_id).await;
        }
        tracing::info!(
            department = %session.department,
            identity = %session.identity_id,
            cause = cause.label(),
            "session ended; its homeserver will be told"
        );
    }
    if !ended.is_empty() {
        services.logout_wakeup.notify_one();
    }
    Ok(ended)
}

/// The Matrix user ID of a session's person at its department.
pub fn user_id(services: &Services, session: &SessionRow) -> Option<String> {
    let department = services.config.department(&session.department)?;
    Some(format!(
        "@{}:{}",
        session.localpart, department.homeserver.server_name
    ))
}
