//! `sso-bridge sessions list|end`: the department sessions logins created, and
//! ending them on demand (a stolen laptop, a person who left): each ended
//! session's homeserver gets its logout token, and the command waits for the
//! answers.

use std::time::Duration;

use crate::clock::rfc3339;
use crate::logout::{self, Cause, LogoutContext};
use crate::store::{SessionFilter, SessionRow};

/// Which sessions, as the command line names them.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub sid: Option<String>,
    pub department: Option<String>,
    /// A localpart (at `department`, or in any department).
    pub user: Option<String>,
    /// The person's subject at the IdP, in every department.
    pub subject: Option<String>,
    /// With `user`: the same person's sessions in every department.
    pub everywhere: bool,
}

impl Selection {
    /// Whether it names no one: `end` refuses that (ending every session is
    /// never what a typo meant).
    pub fn is_empty(&self) -> bool {
        self.sid.is_none() && self.user.is_none() && self.subject.is_none()
    }
}

/// The live sessions the selection names.
async fn select(ctx: &LogoutContext<'_>, selection: &Selection) -> anyhow::Result<Vec<SessionRow>> {
    let store = &ctx.store;
    let mut rows = match (&selection.sid, &selection.user, &selection.subject) {
        (Some(sid), _, _) => store.sessions(&SessionFilter::Sid(sid), false).await?,
        (None, Some(user), _) => {
            let mut found = Vec::new();
            for department in &ctx.config.departments {
                if selection
                    .department
                    .as_deref()
                    .is_some_and(|d| d != department.id)
                {
                    continue;
                }
                found.extend(
                    store
                        .sessions(
                            &SessionFilter::Localpart {
                                department: &department.id,
                                localpart: user,
                            },
                            false,
                        )
                        .await?,
                );
            }
            found
        }
        (None, None, Some(subject)) => {
            store
                .sessions(&SessionFilter::Subject(subject), false)
                .await?
        }
        (None, None, None) => match &selection.department {
            Some(department) => {
                store
                    .sessions(&SessionFilter::Department(department), false)
                    .await?
            }
            None => store.sessions(&SessionFilter::All, false).await?,
        },
    };
    if selection.everywhere {
        let mut people: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.issuer.clone(), r.subject.clone()))
            .collect();
        people.dedup();
        rows.clear();
        for (issuer, subject) in &people {
            rows.extend(
                store
                    .sessions(&SessionFilter::Person { issuer, subject }, false)
                    .await?,
            );
        }
    }
    if let Some(department) = &selection.department
        && !selection.everywhere
    {
        rows.retain(|r| &r.department == department);
    }
    rows.sort_by(|a, b| a.sid.cmp(&b.sid));
    rows.dedup_by(|a, b| a.sid == b.sid);
    Ok(rows)
}

fn line(ctx: &LogoutContext<'_>, session: &SessionRow) -> String {
    format!(
        "{}  {}  {}  since {}",
        session.sid,
        session.department,
        logout::user_id(ctx.config, session).unwrap_or_else(|| session.localpart.clone()),
        rfc3339(session.created_at),
    )
}

/// One line per live session: sid, department, Matrix user, since when.
pub async fn list(ctx: &LogoutContext<'_>, selection: &Selection) -> anyhow::Result<String> {
    let rows = select(ctx, selection).await?;
    if rows.is_empty() {
        return Ok("no live session matches\n".to_owned());
    }
    Ok(rows.iter().map(|s| line(ctx, s) + "\n").collect())
}

/// Ends the sessions, delivers their logout tokens (this process sends them,
/// with any others due) and prints each homeserver's answer; waits at most
/// `wait`, after which what is left stays queued for the running bridge.
/// A `wait` of zero only queues them, for the running bridge to deliver.
pub async fn end(
    ctx: &LogoutContext<'_>,
    selection: &Selection,
    wait: Duration,
) -> anyhow::Result<String> {
    if selection.is_empty() {
        anyhow::bail!("name the sessions to end: --sid, --user or --subject");
    }
    let chosen = select(ctx, selection).await?;
    let mut out = String::new();
    if chosen.is_empty() {
        out.push_str("no live session matches\n");
        return Ok(out);
    }
    // End exactly the sessions listed (by sid), whatever starts meanwhile.
    let mut ended = Vec::new();
    for session in &chosen {
        ended.extend(
            logout::end_sessions(ctx, &SessionFilter::Sid(&session.sid), Cause::Admin).await?,
        );
    }
    if wait.is_zero() {
        // Queued only: the running bridge instances deliver them.
        for session in &ended {
            out.push_str(&format!(
                "{}  queued for the running bridge\n",
                line(ctx, session)
            ));
        }
        return Ok(out);
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        logout::delivery::deliver_due(ctx).await?;
        let sids: Vec<String> = ended.iter().map(|s| s.sid.clone()).collect();
        let pending = ctx.store.pending_deliveries(&sids).await?;
        if pending.is_empty() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for session in &ended {
        let outcome = match ctx.store.delivery_outcome(&session.sid).await? {
            Some((Some(_), _, _)) => "ended at its homeserver".to_owned(),
            Some((None, Some(_), error)) => {
                format!("GIVEN UP: {}", error.unwrap_or_else(|| "no answer".into()))
            }
            Some((None, None, error)) => format!(
                "queued, the homeserver has not taken it yet ({}); the bridge keeps trying",
                error.unwrap_or_else(|| "no attempt yet".into())
            ),
            None => "no delivery".to_owned(),
        };
        out.push_str(&format!("{}  {outcome}\n", line(ctx, session)));
    }
    Ok(out)
}
