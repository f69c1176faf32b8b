//! Log set-up: `SSO_BRIDGE_LOG` filters (default `info,sqlx=warn`),
//! `SSO_BRIDGE_LOG_FORMAT=json` for machines, text otherwise.
//!
//! A line written while a request is being served carries that request's id,
//! method, path and (once known) department: read from the task-local
//! [`RequestContext`](crate::request_context) at the moment the line is
//! written, so requests that log nothing pay nothing for it.

use std::fmt::{self, Write as _};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, format};
use tracing_subscriber::registry::LookupSpan;

use crate::request_context::{self, RequestContext};

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SSO_BRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("SSO_BRIDGE_LOG_FORMAT").is_ok_and(|f| f == "json");
    // Colours only for a person at a terminal, never in log files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .event_format(WithRequest(format().json()))
            .init();
    } else {
        builder.event_format(WithRequest(format())).init();
    }
}

/// Adds the current request's context to each line the inner format writes:
/// JSON gets top-level `request_id`, `method`, `path`, `department` keys; text
/// gets `request_id=… method=… path=… department=…` at the end of the line.
struct WithRequest<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithRequest<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(Ok(line)) = request_context::with_current(|request| {
            // The inner format writes into a buffer (without colours), which is
            // then completed with the request's fields.
            let mut line = String::new();
            self.0
                .format_event(ctx, Writer::new(&mut line), event)
                .map(|()| add_request(&line, request))
        }) else {
            return self.0.format_event(ctx, writer, event);
        };
        writer.write_str(&line)
    }
}

fn add_request(line: &str, request: &RequestContext) -> String {
    let department = request.department();
    let body = line.strip_suffix('\n').unwrap_or(line);
    if let Some(rest) = body.strip_prefix('{') {
        let mut fields = serde_json::Map::new();
        fields.insert("request_id".into(), request.id().into());
        fields.insert("method".into(), request.method().as_str().into());
        fields.insert("path".into(), request.path().into());
        if let Some(department) = department {
            fields.insert("department".into(), department.into());
        }
        let fields = serde_json::Value::Object(fields).to_string();
        let separator = if rest.starts_with('}') { "" } else { "," };
        // `fields` is `{…}`: its inside goes first in the line's object.
        format!(
            "{}{separator}{rest}\n",
            fields.strip_suffix('}').unwrap_or(&fields)
        )
    } else {
        let mut out = String::with_capacity(body.len() + 80);
        out.push_str(body);
        // Values are quoted with Debug, as tracing does, so a path cannot forge fields.
        let _ = write!(
            out,
            " request_id={} method={} path={:?}",
            request.id(),
            request.method(),
            request.path()
        );
        if let Some(department) = department {
            let _ = write!(out, " department={department:?}");
        }
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, Uri};

    use super::*;

    fn request() -> RequestContext {
        RequestContext::new(
            Some("abc-1"),
            Method::POST,
            Uri::from_static("/_sso_bridge/pick?flow=secret"),
        )
    }

    #[test]
    fn json_lines_get_the_request_as_top_level_keys() {
        let line = add_request(
            "{\"level\":\"WARN\",\"fields\":{\"message\":\"x\"}}\n",
            &request(),
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["request_id"], "abc-1");
        assert_eq!(value["method"], "POST");
        assert_eq!(value["path"], "/_sso_bridge/pick");
        assert_eq!(value["fields"]["message"], "x");
        assert!(line.ends_with("}\n") && !line.contains("secret"));
    }

    #[test]
    fn text_lines_end_with_the_request_and_never_its_query() {
        let line = add_request(
            "2026-11-30T00:00:00Z  WARN sso_bridge: x reason=y\n",
            &request(),
        );
        assert_eq!(
            line,
            "2026-11-30T00:00:00Z  WARN sso_bridge: x reason=y request_id=abc-1 method=POST path=\"/_sso_bridge/pick\"\n"
        );
    }
}
