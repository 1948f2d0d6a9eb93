//! The OpenAPI description of the API as a whole: its info, tags and security schemes, and
//! the error answers that every operation needing a credential shares. Each operation is
//! described at its handler by `#[utoipa::path]` and routed from that description with
//! `utoipa_axum::routes!`, so no route exists without its documentation.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayItems, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use variosync_domain::names::{NameKind, SPACE, json_pattern};

use crate::error::ApiError;
use crate::session::{CSRF_HEADER, SESSION_COOKIE};

/// The security scheme of `Authorization: Bearer` credentials.
const BEARER: &str = "bearer";
/// The security scheme of the session cookie.
const SESSION: &str = "session";

/// What the document says of the API before any operation.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Variosync API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Upload time-series files, read them back as chart windows, candles, \
            resampled series and pages of rows, and manage the account they belong to.\n\n\
            Programs authenticate with `Authorization: Bearer` and an API key (`vsk_...`) or a \
            short-lived access token minted from one (`POST /api/v1/auth/token`). Browsers use \
            the session cookie set by sign-in, and send the session's CSRF token as \
            `X-CSRF-Token` on every request that changes something.\n\n\
            Errors are JSON objects with a stable `code` and a human `message`. Times in \
            query parameters are RFC 3339 or milliseconds since 1970; times in series data \
            are microseconds since 1970 (UTC)."
    ),
    servers((url = "/", description = "The server this document is served from")),
    tags(
        (name = "auth", description = "Sign-up, sign-in, sign-out, e-mailed links, access tokens"),
        (name = "account", description = "The signed-in user's own account"),
        (name = "sessions", description = "The signed-in user's browser sessions"),
        (name = "api-keys", description = "The signed-in user's API keys"),
        (name = "hours", description = "The compute-hour balance and its ledger"),
        (name = "audit", description = "The audit log"),
        (
            name = "datasets",
            description = "Datasets: upload, versions, profile, rejects, chart windows, \
                resampling, rows"
        ),
        (name = "uploads", description = "Resumable uploads of large files, in chunks"),
        (
            name = "forecasts",
            description = "Forecasts with intervals and rolling-origin backtests, made by jobs"
        ),
        (
            name = "exports",
            description = "Exports written by jobs into the object store, downloaded through \
                signed, expiring links"
        ),
        (name = "billing", description = "Hour packages, Stripe Checkout and its webhook"),
        (
            name = "jobs",
            description = "Background jobs: progress, cancellation, live events, hours used"
        ),
        (name = "admin", description = "Accounts, roles and hour grants, for admins"),
    ),
    components(schemas(ApiError)),
    modifiers(&SecuritySchemes),
)]
pub(super) struct ApiDoc;

/// Adds the two ways a request proves who it is.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("API key or access token")
            .description(Some(
                "An API key (`vsk_...`, made with `POST /api/v1/api-keys`) or an access token \
                 (`POST /api/v1/auth/token`). Its scope decides what it may do: `read` only \
                 reads, `write` also changes, `admin` also does what the owner's admin role \
                 allows.",
            ))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
        let cookie = ApiKeyValue::with_description(
            SESSION_COOKIE.to_owned(),
            format!(
                "The session cookie set by sign-in. Requests other than GET, HEAD and OPTIONS \
                 must also send the session's CSRF token (`csrf_token` in the sign-in answer) \
                 in the `{CSRF_HEADER}` header."
            ),
        );
        components.add_security_scheme(SESSION, SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
    }
}

/// An answer whose body is the error shape.
fn error(description: &str) -> ResponseBuilder {
    let schema = Ref::from_schema_name(<ApiError as utoipa::ToSchema>::name());
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(RefOr::Ref(schema))))
}

fn unauthenticated() -> (String, RefOr<Response>) {
    let response = error(
        "No credential, or one that is invalid, expired or revoked, or of a disabled account \
         (`unauthenticated`).",
    );
    ("401".to_owned(), response.build().into())
}

fn rate_limited() -> (String, RefOr<Response>) {
    rate_limited_by("Too many requests from this account (`rate_limited`).")
}

/// A 429 answer, with the `Retry-After` header it carries.
fn rate_limited_by(description: &str) -> (String, RefOr<Response>) {
    let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).build();
    let retry_after = HeaderBuilder::new()
        .schema(Some(seconds))
        .description(Some("Seconds to wait before trying again."))
        .build();
    let response = error(description).header("Retry-After", retry_after);
    ("429".to_owned(), response.build().into())
}

fn forbidden(description: &str) -> (String, RefOr<Response>) {
    ("403".to_owned(), error(description).build().into())
}

/// The answers of an operation that needs a credential and only reads: the credential is
/// missing or not good (401), or the account made too many requests (429).
pub(super) struct Reading;

impl utoipa::IntoResponses for Reading {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([unauthenticated(), rate_limited()])
    }
}

/// The answers of an operation that needs a credential and changes something: those of
/// [`Reading`], and 403 when the credential may not make changes.
pub(super) struct Changing;

impl utoipa::IntoResponses for Changing {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            unauthenticated(),
            forbidden(
                "The credential may not make changes: a key or token with the `read` scope \
                 (`insufficient_scope`), or a session request without its CSRF token \
                 (`csrf_failed`).",
            ),
            rate_limited(),
        ])
    }
}

/// The answers of an admin operation: those of [`Changing`], with 403 also when the user is
/// not an admin.
pub(super) struct AdminOnly;

impl utoipa::IntoResponses for AdminOnly {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            unauthenticated(),
            forbidden(
                "The user is not an admin or the key lacks the `admin` scope (`admin_only`), \
                 or a session request has no CSRF token (`csrf_failed`).",
            ),
            rate_limited(),
        ])
    }
}

/// The answers of an operation that takes credentials or e-mailed tokens before anyone is
/// signed in, and is throttled per client address: refused from another site (403), or too
/// many requests from this address (429).
pub(super) struct Throttled;

impl utoipa::IntoResponses for Throttled {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            forbidden("Sent by a page of another site (`cross_origin`)."),
            rate_limited_by("Too many requests from this address (`rate_limited`)."),
        ])
    }
}

/// Adds to every operation the answers the server gives before its handler runs, so that a
/// client (or a fuzzer checking the document) meets no status the document does not name:
/// 400 for a malformed path, query or JSON body; 404 for a path naming nothing; 413, 415
/// and 422 for bodies too large, of a type not taken, or of the wrong shape. An operation's
/// own description of one of these is kept. Every request body is marked required.
pub(super) fn describe_common_answers(openapi: &mut OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let in_path = parameters
                .iter()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
            let takes_values = !parameters.is_empty();
            // Every body the API takes is needed: a request without it is malformed.
            if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
                body.required = Some(utoipa::openapi::Required::True);
            }
            let body = operation.request_body.as_ref();
            let json_body = body.is_some_and(
                |b| matches!(b, RefOr::T(b) if b.content.contains_key("application/json")),
            );
            let mut add = |status: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error(description).build().into());
            };
            if takes_values || body.is_some() {
                add(
                    "400",
                    "The request is malformed: a path or query value of the wrong type, out of \
                     its bounds or unknown, or a body that is not valid JSON \
                     (`invalid_request`, `invalid_query`).",
                );
            }
            if in_path {
                add("404", "Nothing of that id belongs to the caller (`*_not_found`).");
            }
            if body.is_some() {
                add("413", "The body is larger than this operation takes (`too_large`).");
                add(
                    "415",
                    "The body's `Content-Type` is not one this operation takes \
                     (`unsupported_media_type`).",
                );
            }
            if json_body {
                add(
                    "422",
                    "The JSON body lacks a field, has one of the wrong type, or one it does not \
                     take (`invalid_body`).",
                );
            }
        }
    }
}

/// Applies `apply` to every plain schema within `schema`: itself, an array's items, the
/// alternatives of a one-of or any-of (as an `Option` makes).
fn each_plain(schema: &mut RefOr<Schema>, apply: &mut dyn FnMut(&mut Object)) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => apply(object),
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                each_plain(items, apply);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(|item| each_plain(item, apply)),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(|item| each_plain(item, apply)),
        _ => {}
    }
}

/// A time in a query: RFC 3339, or milliseconds since 1970 (as many as fit in microseconds),
/// or blank for the default.
fn time_schema(description: Option<String>) -> RefOr<Schema> {
    let millis = 9_223_372_036_854_775_i64;
    let blank = format!("^[{SPACE}]*$");
    let any = AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(-millis))
                .maximum(Some(millis)),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(blank)))
        .description(description)
        .build();
    RefOr::T(Schema::AnyOf(any))
}

/// Where a rule goes (a component and its property, or an operation and its parameter) and
/// what it does to the schema there.
type Rule = (&'static str, &'static str, Box<dyn Fn(&mut Object)>);

/// States in the document the rules the server enforces on values whose type alone says too
/// little: names (the one rule of `variosync_domain::names`), times in queries, the
/// `Idempotency-Key` and `Stripe-Signature` headers, and an upload's largest size (this
/// server's `upload_limit`). Answers what it looked for and did not find.
pub(super) fn state_rules(openapi: &mut OpenApi, upload_limit: u64) -> Vec<String> {
    let mut missing = Vec::new();
    let name =
        |kind: NameKind| move |object: &mut Object| object.pattern = Some(json_pattern(kind));
    // A query value left blank means the default, as an absent one does.
    let name_or_blank = |kind: NameKind| {
        move |object: &mut Object| {
            object.pattern = Some(format!("{}|^[{SPACE}]*$", json_pattern(kind)));
        }
    };
    let components = openapi.components.get_or_insert_with(Default::default);
    let properties: [Rule; 9] = [
        ("DatasetChange", "name", Box::new(name(NameKind::Dataset))),
        ("DatasetChange", "tags", Box::new(name(NameKind::Tag))),
        ("NewApiKey", "name", Box::new(name(NameKind::Key))),
        ("NewForecastRequest", "series", Box::new(name(NameKind::Series))),
        ("NewForecastRequest", "column", Box::new(name(NameKind::Column))),
        ("RegressorBody", "column", Box::new(name(NameKind::Column))),
        ("NewExportRequest", "series", Box::new(name(NameKind::Series))),
        ("NewExportRequest", "columns", Box::new(name(NameKind::Column))),
        (
            "NewUpload",
            "size",
            Box::new(move |object: &mut Object| {
                object.maximum = Some(usize::try_from(upload_limit).unwrap_or(usize::MAX).into());
            }),
        ),
    ];
    for (component, property, apply) in properties {
        let found = match components.schemas.get_mut(component) {
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(property),
            _ => None,
        };
        match found {
            Some(schema) => each_plain(schema, &mut |object| apply(object)),
            None => missing.push(format!("{component}.{property}")),
        }
    }
    let idempotency = "^[!-~]([ -~\\t]{0,198}[!-~])?$";
    let parameters: [Rule; 12] = [
        ("upload_dataset", "name", Box::new(name_or_blank(NameKind::Dataset))),
        ("upload_dataset", "series", Box::new(name_or_blank(NameKind::Series))),
        ("complete_upload", "name", Box::new(name_or_blank(NameKind::Dataset))),
        ("complete_upload", "series", Box::new(name_or_blank(NameKind::Series))),
        ("get_series_window", "series", Box::new(name(NameKind::Series))),
        ("resample_series", "series", Box::new(name(NameKind::Series))),
        ("list_dataset_rows", "series", Box::new(name_or_blank(NameKind::Series))),
        (
            "upload_dataset",
            "Idempotency-Key",
            Box::new(|o: &mut Object| o.pattern = Some(idempotency.into())),
        ),
        (
            "complete_upload",
            "Idempotency-Key",
            Box::new(|o: &mut Object| o.pattern = Some(idempotency.into())),
        ),
        (
            "create_forecast",
            "Idempotency-Key",
            Box::new(|o: &mut Object| o.pattern = Some(idempotency.into())),
        ),
        (
            "create_export",
            "Idempotency-Key",
            Box::new(|o: &mut Object| o.pattern = Some(idempotency.into())),
        ),
        (
            "stripe_webhook",
            "Stripe-Signature",
            Box::new(|object: &mut Object| {
                object.min_length = Some(1);
                object.pattern = Some("\\S".into());
            }),
        ),
    ];
    let times = ["get_series_window", "resample_series", "list_dataset_rows"];
    let mut seen = Vec::new();
    for item in openapi.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.put];
        for operation in operations.into_iter().flatten() {
            let id = operation.operation_id.clone().unwrap_or_default();
            for parameter in operation.parameters.iter_mut().flatten() {
                let RefOr::T(parameter) = parameter else { continue };
                if times.contains(&id.as_str()) && matches!(parameter.name.as_str(), "from" | "to")
                {
                    parameter.schema = Some(time_schema(parameter.description.clone()));
                    seen.push(format!("{id}.{}", parameter.name));
                }
                for (operation_id, name, apply) in &parameters {
                    if *operation_id == id
                        && *name == parameter.name
                        && let Some(schema) = parameter.schema.as_mut()
                    {
                        each_plain(schema, &mut |object| apply(object));
                        seen.push(format!("{id}.{name}"));
                    }
                }
            }
        }
    }
    let wanted = parameters.iter().map(|(id, name, _)| format!("{id}.{name}"));
    let wanted =
        wanted.chain(times.iter().flat_map(|id| [format!("{id}.from"), format!("{id}.to")]));
    missing.extend(wanted.filter(|want| !seen.contains(want)));
    missing
}
