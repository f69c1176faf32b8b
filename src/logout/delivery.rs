//! Delivering logout tokens to the homeservers: due deliveries are claimed in
//! the database (one instance per attempt), POSTed to the homeserver's
//! back-channel logout endpoint, and kept until it answers 2xx, retried with
//! backoff across restarts, given up after `[logout] give_up_after_seconds`.

use std::time::Duration;

use super::LogoutContext;
use crate::outbound::error_chain;
use crate::store::{DeliveryRow, SessionRow};

/// How long one attempt may take: a homeserver answers a logout in milliseconds.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one attempt belongs to the instance that claimed it: longer than an
/// attempt, so no other instance sends the same delivery meanwhile; short, so
/// an instance that stopped mid-attempt delays the retry little.
const LEASE_SECONDS: i64 = 10;
/// Deliveries claimed per round.
const BATCH: i64 = 32;

/// Works the queue: at once when a session ends here, otherwise every second
/// (deliveries queued by another instance, retries that fall due).
pub async fn run(ctx: &LogoutContext<'_>) {
    let mut last_seen = ctx.now();
    loop {
        if let Err(e) = deliver_due(ctx).await {
            tracing::warn!(error = %e, "logout deliveries: the database did not answer");
        }
        last_seen = forget_delivered_elsewhere(ctx, last_seen).await;
        tokio::select! {
            () = ctx.wakeup.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Delivers the logout tokens of `ended` now, waiting at most 1.5 s (IdPs wait
/// 2.5 s or more for an answer): an IdP's logout is answered once the
/// homeservers have (usually) taken theirs, so whatever asks next finds the
/// sessions gone. This instance's worker may send some of them meanwhile; what
/// does not land in time stays queued for it.
pub async fn deliver_promptly(ctx: &LogoutContext<'_>, ended: &[SessionRow]) {
    let sids: Vec<String> = ended.iter().map(|s| s.sid.clone()).collect();
    let work = async {
        loop {
            deliver_due(ctx).await?;
            if ctx.store.pending_deliveries(&sids).await?.is_empty() {
                return Ok::<(), crate::store::StoreError>(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    match tokio::time::timeout(Duration::from_millis(1500), work).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "logout deliveries: the database did not answer"),
        Err(_) => tracing::info!("logout deliveries still pending; the worker goes on with them"),
    }
}

/// One round: every due delivery this instance could claim, sent in parallel.
/// Returns how many were attempted.
pub async fn deliver_due(ctx: &LogoutContext<'_>) -> Result<usize, crate::store::StoreError> {
    let now = ctx.now();
    let claimed = ctx
        .store
        .claim_due_deliveries(ctx.config.issuer(), now, LEASE_SECONDS, BATCH)
        .await?;
    let count = claimed.len();
    // Concurrently: one slow homeserver does not hold up the others.
    futures_util::future::join_all(claimed.into_iter().map(|delivery| attempt(ctx, delivery)))
        .await;
    Ok(count)
}

/// Sends one logout token and records the outcome.
async fn attempt(ctx: &LogoutContext<'_>, delivery: DeliveryRow) {
    let outcome = send(ctx, &delivery).await;
    let now = ctx.now();
    let recorded = match outcome {
        Ok(()) => {
            ctx.metrics
                .logout_delivery(&delivery.department, "delivered");
            tracing::info!(department = %delivery.department, attempts = delivery.attempts, "logout delivered to the homeserver");
            // A look-up between the session's end and now may have cached the
            // homeserver's last "active": drop it again.
            forget_session_user(ctx, &delivery.sid).await;
            ctx.store.delivery_done(&delivery.id, now).await
        }
        Err(error) => {
            let give_up = now >= delivery.give_up_at;
            let wait = backoff(delivery.attempts);
            let outcome = if give_up { "given_up" } else { "retry" };
            ctx.metrics.logout_delivery(&delivery.department, outcome);
            let (department, attempts) = (&delivery.department, delivery.attempts);
            if give_up {
                tracing::error!(%department, attempts, %error, "logout never reached the homeserver; given up: the session may live on there");
            } else {
                tracing::warn!(%department, attempts, retry_in_seconds = wait, %error, "logout not delivered to the homeserver yet; kept for a retry");
            }
            ctx.store
                .delivery_failed(&delivery.id, &error, now + wait, give_up, now)
                .await
        }
    };
    if let Err(e) = recorded {
        // The lease runs out and the delivery is tried again: at least once.
        tracing::warn!(error = %e, "could not record a logout delivery's outcome");
    }
}

/// Seconds before the next attempt: 2, 4, 8, … up to five minutes.
fn backoff(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 9)).unwrap_or(1);
    (1i64 << doublings).min(300)
}

async fn send(ctx: &LogoutContext<'_>, delivery: &DeliveryRow) -> Result<(), String> {
    let department = ctx
        .config
        .department(&delivery.department)
        .ok_or("the department is no longer configured")?;
    let url = department
        .homeserver
        .base_url
        .join(crate::routes::SYNAPSE_BACKCHANNEL_LOGOUT)
        .map_err(|e| e.to_string())?;
    let token = super::token::logout_token(&ctx.provider, delivery)
        .await
        .map_err(|e| e.to_string())?;
    let response = ctx
        .http
        .post(url)
        .timeout(ATTEMPT_TIMEOUT)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    Err(format!("HTTP {status}: {body}"))
}

async fn forget_session_user(ctx: &LogoutContext<'_>, sid: &str) {
    if let Ok(sessions) = ctx
        .store
        .sessions(&crate::store::SessionFilter::Sid(sid), true)
        .await
    {
        for session in &sessions {
            if let Some(user_id) = super::user_id(ctx.config, session) {
                ctx.introspector.forget_user(&user_id).await;
            }
        }
    }
}

/// Drops, in this instance's memory, the cached verdicts of users whose logout
/// another instance delivered since `since`; returns the new mark.
async fn forget_delivered_elsewhere(ctx: &LogoutContext<'_>, since: i64) -> i64 {
    let now = ctx.now();
    match ctx.store.sessions_delivered_since(since).await {
        Ok(sessions) => {
            for session in &sessions {
                if let Some(user_id) = super::user_id(ctx.config, session) {
                    ctx.introspector.forget_user_here(&user_id);
                }
            }
            // Overlap one second: a delivery recorded in the same second is seen again, harmlessly.
            now - 1
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read recent logouts");
            since
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn retries_back_off_from_two_seconds_to_five_minutes() {
        assert_eq!([1, 2, 3, 8, 9, 50].map(backoff), [2, 4, 8, 256, 300, 300]);
    }
}
