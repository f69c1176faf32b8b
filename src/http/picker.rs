//! The department picker: server-side search, last choice first, e-mail routing.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::HttpError;
use super::error_pages::EdgePage;
use super::i18n::Lang;
use super::pages::{DepartmentView, PickerPage, UrlSafe, html};
use super::{cookies, respond};
use crate::config::Department;
use crate::flow::{self, FlowError};
use crate::services::Services;

#[derive(Deserialize)]
pub struct PickerQuery {
    flow: String,
    #[serde(default)]
    q: String,
}

pub async fn show(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<PickerQuery>,
) -> Result<HttpResponse, HttpError> {
    let fail = |e| HttpError::from_flow(&services, e);
    let browser =
        cookies::browser_secret(&request).ok_or_else(|| fail(FlowError::NoBrowserSession))?;
    flow::check_picker(&services.flow(), &browser, &query.flow).map_err(fail)?;
    page(&services, &request, &query.flow, &query.q).await
}

/// The picker for the sealed login `flow`, its list narrowed by `query`. Shown
/// by the login start itself (so a start is one request) and by this route,
/// which the page's search form and "Try again" come back to.
pub async fn page(
    services: &Services,
    request: &HttpRequest,
    flow: &str,
    query: &str,
) -> Result<HttpResponse, HttpError> {
    // Sealed logins are URL-safe base64; anything else was not sealed by us.
    let flow =
        UrlSafe::new(flow).ok_or_else(|| HttpError::from_flow(services, FlowError::Expired))?;
    let needle = query.trim().to_lowercase();
    let lang = Lang::current().code();
    let all = &services.config.departments;
    let departments: Vec<DepartmentView> = all
        .iter()
        .filter(|d| needle.is_empty() || matches(d, &needle))
        .map(|d| view(d, lang))
        .collect();
    let last = cookies::last_department(request)
        .and_then(|id| services.config.department(id))
        .map(|d| view(d, lang));
    Ok(html(
        StatusCode::OK,
        &PickerPage {
            t: Lang::current().texts(),
            site: super::site::Site::current(),
            flow,
            query,
            last,
            departments,
            total: all.len(),
            email_domain: all
                .iter()
                .find_map(|d| d.email_domains.first())
                .map(String::as_str),
            nonce: super::pages::fresh_nonce(),
            form_targets: cached_form_targets(services, request).await,
        },
    ))
}

/// The picker's `form-action`, built again only when an IdP's metadata
/// changed (a login start renders the picker: it must cost little).
pub struct FormTargetsCache(std::sync::RwLock<Option<(u64, Arc<str>)>>);

impl FormTargetsCache {
    pub fn new() -> Self {
        Self(std::sync::RwLock::new(None))
    }
}

async fn cached_form_targets(services: &Services, request: &HttpRequest) -> Arc<str> {
    let generation = services.upstreams.generation();
    let cache = request.app_data::<web::Data<FormTargetsCache>>();
    if let Some(cache) = cache
        && let Ok(cached) = cache.0.read()
        && let Some((seen, targets)) = cached.as_ref()
        && *seen == generation
    {
        return targets.clone();
    }
    let targets: Arc<str> = form_targets(services).await.into();
    if let Some(cache) = cache
        && let Ok(mut cached) = cache.0.write()
    {
        *cached = Some((generation, targets.clone()));
    }
    targets
}

/// Where the picker's forms may lead (CSP `form-action`), for Chrome checks
/// every redirect of a form's navigation against it: the bridge, then an IdP's
/// login page; and when the IdP's session is still alive, the whole login
/// without a stop: the IdP's callback here, the department's homeserver and the
/// OpenID Provider here in turn, then the client (an allowed origin, or the
/// confirmation page here).
async fn form_targets(services: &Services) -> String {
    let mut targets = String::from("'self'");
    let config = &services.config;
    let idps = services.upstreams.login_origins().await;
    let homeservers = config
        .departments
        .iter()
        .map(|d| d.homeserver.base_url.origin());
    let mut seen = Vec::new();
    for origin in idps
        .into_iter()
        .chain(homeservers)
        .chain(config.allowed_redirect_origins.iter().cloned())
        .chain(config.pages.form_targets.iter().cloned())
    {
        if origin.is_tuple() && !seen.contains(&origin) {
            targets.push(' ');
            targets.push_str(&origin.ascii_serialization());
            seen.push(origin);
        }
    }
    targets
}

#[derive(Deserialize)]
pub struct PickerForm {
    flow: String,
    department: Option<String>,
    email: Option<String>,
}

pub async fn choose(
    services: web::Data<Services>,
    request: HttpRequest,
    form: web::Form<PickerForm>,
) -> Result<HttpResponse, HttpError> {
    let browser = cookies::browser_secret(&request)
        .ok_or_else(|| HttpError::from_flow(&services, FlowError::NoBrowserSession))?;
    let email = form
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let next = flow::choose_department(
        &services.flow(),
        &browser,
        &form.flow,
        form.department.as_deref(),
        email,
    )
    .await
    .map_err(|e| match (e, email) {
        (FlowError::UnknownDepartment(domain), Some(_)) => {
            EdgePage::NoDepartmentForEmail(domain).into()
        }
        (e, _) => HttpError::from_flow(&services, e),
    })?;
    let chosen = form
        .department
        .as_deref()
        .filter(|d| !d.is_empty())
        .or_else(|| {
            email
                .and_then(|e| services.config.department_for_email(e))
                .map(|d| d.id.as_str())
        });
    let cookies = chosen
        .map(|d| vec![cookies::last_department_cookie(&services, d)])
        .unwrap_or_default();
    Ok(respond::next(&services, next, cookies))
}

/// Whether the search `needle` finds the department, by any of its names.
fn matches(department: &Department, needle: &str) -> bool {
    department.name.to_lowercase().contains(needle)
        || department
            .names
            .iter()
            .any(|(_, name)| name.to_lowercase().contains(needle))
        || department.id.contains(needle)
        || department.email_domains.iter().any(|d| d.contains(needle))
}

/// The department as the picker shows it, named in the page's language.
fn view<'a>(department: &'a Department, lang: &str) -> DepartmentView<'a> {
    DepartmentView {
        id: &department.id,
        name: department.name_in(lang),
        logo_url: department.logo_url.as_ref().map(|u| u.as_str()),
        domains: &department.email_domains,
    }
}
