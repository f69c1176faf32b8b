//! The HTTP edge: routes, security headers, and the server. Handlers are short:
//! they extract, call into `flow` or `provider`, and respond.

mod address_limit;
mod assets;
mod client_address;
mod complete;
mod context;
mod cookies;
mod demo;
pub mod error;
mod error_pages;
mod fallback;
mod form_body;
mod headers;
mod introspection;
pub use context::edge;
pub mod i18n;
mod matrix;
mod ops;
pub mod pages;
mod picker;
mod provider;
mod respond;
mod resume;
mod site;
mod token_login;
mod upstream;
pub mod words;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::routes;
use crate::services::Services;
use error::HttpError;
use error_pages::EdgePage;
use headers::PageCsp;

/// Request bodies the bridge accepts are small forms…
const MAX_FORM_BYTES: usize = 16 * 1024;
/// …except SAML responses, which carry signed XML (a large one is a few tens of KiB).
const MAX_SAML_RESPONSE_BYTES: usize = 256 * 1024;

/// Every route of the bridge; also used by in-process tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // Form bodies: too large → 413, otherwise 400; a page for people, OAuth JSON for homeservers.
    let form_error = |limit: usize, page: bool| {
        web::FormConfig::default()
            .limit(limit)
            .error_handler(move |e, _| {
                let too_large = matches!(e, actix_web::error::UrlencodedError::Overflow { .. });
                if page {
                    HttpError::from(EdgePage::UnreadableForm {
                        why: e.to_string(),
                        too_large,
                    })
                    .into()
                } else {
                    let status = if too_large {
                        StatusCode::PAYLOAD_TOO_LARGE
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    HttpError::OAuth {
                        status,
                        error: "invalid_request",
                        description: e.to_string(),
                        retry_after: None,
                        challenge: crate::http::error::Challenge::Basic,
                    }
                    .into()
                }
            })
    };
    cfg.app_data(web::QueryConfig::default().error_handler(|e, req| {
        if req.path().starts_with(routes::CLIENT_API_PREFIX) && !req.path().contains("/login/sso/")
        {
            HttpError::matrix(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", e.to_string()).into()
        } else {
            HttpError::from(EdgePage::InvalidAddress(e.to_string())).into()
        }
    }))
    // Token validation for university services: the hottest paths, so first.
    // Routes are tried in order and a route with a `{…}` segment is matched
    // with a regex, so every static route comes before every dynamic one.
    .route(
        routes::INTROSPECT,
        web::post().to(introspection::introspect),
    )
    .route(
        routes::FORWARD_AUTH,
        web::get().to(introspection::forward_auth),
    );
    // Matrix front door, spelled out per API version (no regex on the way to it).
    for version in routes::API_VERSIONS {
        cfg.service(
            web::resource(routes::login(version))
                .app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
                .route(web::get().to(matrix::login_flows))
                .route(
                    web::post()
                        .to(token_login::login)
                        .wrap(from_fn(address_limit::matrix_login)),
                ),
        )
        .route(
            &routes::sso_redirect(version),
            web::get()
                .to(matrix::sso_redirect_picker)
                .wrap(from_fn(address_limit::login)),
        );
    }
    cfg.route(routes::VERSIONS, web::get().to(matrix::versions))
        .route(routes::MATRIX_WELL_KNOWN, web::get().to(matrix::well_known))
        // The login flow's own pages.
        .route(routes::PICK, web::get().to(picker::show))
        .service(
            web::resource(routes::PICK)
                .app_data(form_error(MAX_FORM_BYTES, true))
                .route(
                    web::post()
                        .to(picker::choose)
                        .wrap(from_fn(address_limit::login)),
                ),
        )
        .route(routes::COMPLETE, web::get().to(complete::complete))
        .route(routes::CONFIRM, web::get().to(complete::confirm))
        .route(
            routes::RESUME,
            web::get()
                .to(resume::resume)
                .wrap(from_fn(address_limit::login)),
        )
        // The OpenID Provider for the departments' homeservers.
        .route(routes::OP_DISCOVERY, web::get().to(provider::discovery))
        .route(routes::OP_JWKS, web::get().to(provider::jwks))
        .route(routes::OP_AUTHORIZE, web::get().to(provider::authorize))
        .service(
            web::resource(routes::OP_TOKEN)
                .app_data(form_error(MAX_FORM_BYTES, false))
                .route(
                    web::post()
                        .to(provider::token)
                        .wrap(from_fn(address_limit::token)),
                ),
        )
        .route(routes::OP_USERINFO, web::route().to(provider::userinfo))
        // Demo, operations.
        .route(routes::DEMO, web::get().to(demo::demo))
        .route(routes::FALLBACK, web::get().to(fallback::fallback))
        .route(
            routes::FAVICON,
            web::get().to(|| async { actix_web::HttpResponse::NoContent().finish() }),
        )
        .route(routes::HEALTH, web::get().to(ops::health))
        .route(routes::READY, web::get().to(ops::ready))
        .route(
            routes::METRICS,
            web::get().to(ops::metrics_on_main_listener),
        );
    // Dynamic routes, last.
    for version in routes::API_VERSIONS {
        cfg.route(
            &routes::sso_redirect_to(version, "{idp}"),
            web::get()
                .to(matrix::sso_redirect_with_idp)
                .wrap(from_fn(address_limit::login)),
        );
    }
    cfg.route(
        &routes::oidc_callback(routes::UPSTREAM),
        web::get()
            .to(upstream::oidc_callback)
            .wrap(from_fn(address_limit::login)),
    )
    .service(
        web::resource(routes::saml_acs(routes::UPSTREAM))
            .app_data(form_error(MAX_SAML_RESPONSE_BYTES, true))
            .route(
                web::post()
                    .to(upstream::saml_acs)
                    .wrap(from_fn(address_limit::saml_acs)),
            ),
    )
    .service(
        web::resource(routes::oidc_backchannel_logout(routes::UPSTREAM))
            .app_data(form_error(MAX_FORM_BYTES, false))
            .route(
                web::post()
                    .to(upstream::oidc_backchannel_logout)
                    .wrap(from_fn(address_limit::token)),
            ),
    )
    .service(
        web::resource(routes::saml_slo(routes::UPSTREAM))
            .app_data(form_error(MAX_SAML_RESPONSE_BYTES, true))
            .route(
                web::get()
                    .to(upstream::saml_slo_redirect)
                    .wrap(from_fn(address_limit::saml_acs)),
            )
            .route(
                web::post()
                    .to(upstream::saml_slo_post)
                    .wrap(from_fn(address_limit::saml_acs)),
            ),
    )
    .route(
        &routes::saml_metadata(routes::UPSTREAM),
        web::get().to(upstream::saml_metadata),
    )
    .route(routes::STATIC, web::get().to(assets::asset))
    .service(web::scope(routes::MATRIX_SCOPE).default_service(web::to(matrix::unrecognized)));
}

/// The whole application: every route inside the middleware. `serve` runs it;
/// the in-process benchmark calls it directly.
pub fn app(
    data: web::Data<Services>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let page_csp = web::Data::new(PageCsp::new(&data.config));
    let site = web::Data::new(std::sync::Arc::new(site::Site::new(&data.config)));
    let form_targets = web::Data::new(picker::FormTargetsCache::new());
    App::new()
        .app_data(data)
        .app_data(page_csp)
        .app_data(site)
        .app_data(form_targets)
        .wrap(from_fn(context::edge))
        .configure(routes)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(HttpError::not_found_page())
        }))
}

/// How long an idle connection stays open. Longer than the pools of the clients
/// that reuse connections to the back-channel endpoints (Synapse keeps idle
/// connections to `/token` for 120 s and does not retry a POST): a server that
/// closes first can close one just as the client sends on it. actix-web's
/// default is 5 s.
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs the server until SIGINT/SIGTERM; requests in flight are finished first.
pub async fn serve(services: Arc<Services>) -> std::io::Result<()> {
    let listen = services.config.listen;
    let data = web::Data::from(services.clone());
    let server = HttpServer::new(move || app(data.clone()))
        .keep_alive(KEEP_ALIVE)
        .shutdown_timeout(10)
        .bind(listen)?;
    tracing::info!(%listen, public_base_url = %services.config.public_base_url, "sso-bridge listening");
    let metrics = &services.config.metrics;
    match metrics.listen {
        Some(metrics_listen) => {
            let data = web::Data::from(services.clone());
            let metrics_server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .route(routes::METRICS, web::get().to(ops::metrics))
            })
            .workers(1)
            .shutdown_timeout(10)
            .bind(metrics_listen)?;
            tracing::info!(listen = %metrics_listen, "metrics listening");
            let (main, metrics) = tokio::join!(server.run(), metrics_server.run());
            main.and(metrics)
        }
        None => {
            if !metrics.on_main_listener() {
                tracing::info!(
                    "metrics are off: set [metrics] listen or bearer_token to read them"
                );
            }
            server.run().await
        }
    }
}
