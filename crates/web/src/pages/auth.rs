//! The sign-in, sign-up and e-mailed-link pages: plain HTML forms that work without
//! JavaScript. Links from e-mails open a page with one button, so that mail scanners that
//! fetch links do not use up single-use tokens.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::render;
use crate::client::Client;
use crate::session::cookie_for;
use crate::state::AppState;

pub(super) fn router(state: &AppState) -> Router<AppState> {
    let forms = Router::new()
        .route("/signin", get(signin_page).post(signin))
        .route("/signup", get(signup_page).post(signup))
        .route("/magic-link/request", axum::routing::post(request_magic_link))
        .route("/forgot-password", get(forgot_page).post(forgot))
        .route("/reset-password", get(reset_page).post(reset))
        .route("/magic-link", get(magic_page).post(magic))
        .route("/verify-email", get(verify_page).post(verify))
        .route("/change-email", get(change_email_page).post(change_email));
    // Finishing a sign-up takes the mailed link's token, which no one guesses: it does not
    // spend the address's quota of attempts.
    forms
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::throttle::limit_by_ip))
        .route("/signup/confirm", get(confirm_signup_page).post(confirm_signup))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn<'a> {
    email: &'a str,
    error: Option<String>,
    notice: Option<&'a str>,
    /// The label of the identity-provider button, when one is configured.
    provider: Option<&'a str>,
    /// Whether to offer GitHub.
    github: bool,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUp<'a> {
    email: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct Forgot;

#[derive(Template)]
#[template(path = "reset.html")]
struct Reset<'a> {
    token: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct Confirm<'a> {
    heading: &'a str,
    action: &'a str,
    button: &'a str,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct Message<'a> {
    pub(super) heading: &'a str,
    pub(super) message: &'a str,
    pub(super) next: &'a str,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct Address {
    email: String,
}

#[derive(Deserialize)]
struct ResetForm {
    token: String,
    new_password: String,
}

/// A page with a status; render failures become a plain 500.
fn page(status: StatusCode, template: &impl Template) -> Response {
    (status, render(template)).into_response()
}

/// Signs the browser in and sends it to its account page.
fn signed_in(state: &AppState, signed: variosync_auth::SignedIn) -> Response {
    let cookie = cookie_for(&signed, state.http.secure_cookies());
    ([(header::SET_COOKIE, cookie)], Redirect::to("/account")).into_response()
}

/// The status and message shown for a refused form.
fn refusal(error: variosync_auth::Error) -> (StatusCode, String) {
    let error = crate::ApiError::from(error);
    (error.status(), error.message().to_owned())
}

/// The label of the identity-provider button, when one is configured.
fn provider(state: &AppState) -> Option<&str> {
    state.oidc.as_deref().map(variosync_auth::Oidc::name)
}

async fn signin_page(State(state): State<AppState>) -> Response {
    page(
        StatusCode::OK,
        &SignIn {
            email: "",
            error: None,
            notice: None,
            provider: provider(&state),
            github: state.github.is_some(),
        },
    )
}

async fn signin(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<Credentials>,
) -> Response {
    match state.accounts.sign_in(&form.email, &form.password, &client).await {
        Ok(signed) => signed_in(&state, signed),
        Err(error) => {
            let (status, message) = refusal(error);
            page(
                status,
                &SignIn {
                    email: &form.email,
                    error: Some(message),
                    notice: None,
                    provider: provider(&state),
                    github: state.github.is_some(),
                },
            )
        }
    }
}

async fn signup_page() -> Response {
    page(StatusCode::OK, &SignUp { email: "", error: None })
}

async fn signup(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<Credentials>,
) -> Response {
    match state.accounts.sign_up(&form.email, &form.password, &client).await {
        Ok(()) => page(
            StatusCode::OK,
            &Message {
                heading: "Check your mail",
                message: "A link to finish signing up is on its way to the address you gave. \
                          It works once, for two days.",
                next: "/signin",
            },
        ),
        Err(error) => {
            let (status, message) = refusal(error);
            page(status, &SignUp { email: &form.email, error: Some(message) })
        }
    }
}

async fn confirm_signup_page(Query(query): Query<TokenQuery>) -> Response {
    confirm_page("Finish signing up", "/signup/confirm", "Create my account", &query.token)
}

async fn confirm_signup(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<TokenQuery>,
) -> Response {
    match state.accounts.confirm_sign_up(&form.token, &client).await {
        Ok(signed) => signed_in(&state, signed),
        Err(error) => link_failed(error),
    }
}

const LINK_SENT: &str = "If the address can receive it, a link is on its way. It works once.";

async fn request_magic_link(State(state): State<AppState>, Form(form): Form<Address>) -> Response {
    match state.accounts.request_magic_link(&form.email).await {
        Ok(()) => page(
            StatusCode::OK,
            &SignIn {
                email: &form.email,
                error: None,
                notice: Some(LINK_SENT),
                provider: provider(&state),
                github: state.github.is_some(),
            },
        ),
        Err(error) => {
            let (status, message) = refusal(error);
            page(
                status,
                &SignIn {
                    email: &form.email,
                    error: Some(message),
                    notice: None,
                    provider: provider(&state),
                    github: state.github.is_some(),
                },
            )
        }
    }
}

async fn forgot_page() -> Response {
    page(StatusCode::OK, &Forgot)
}

async fn forgot(State(state): State<AppState>, Form(form): Form<Address>) -> Response {
    match state.accounts.request_password_reset(&form.email).await {
        Ok(()) => page(
            StatusCode::OK,
            &Message { heading: "Check your mail", message: LINK_SENT, next: "/signin" },
        ),
        Err(error) => {
            let (status, message) = refusal(error);
            page(
                status,
                &Message {
                    heading: "Something went wrong",
                    message: &message,
                    next: "/forgot-password",
                },
            )
        }
    }
}

async fn reset_page(Query(query): Query<TokenQuery>) -> Response {
    page(StatusCode::OK, &Reset { token: &query.token, error: None })
}

async fn reset(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<ResetForm>,
) -> Response {
    match state.accounts.reset_password(&form.token, &form.new_password, &client).await {
        Ok(()) => page(
            StatusCode::OK,
            &Message {
                heading: "Password changed",
                message: "Your password is set, and every session was signed out. Sign in with the new password.",
                next: "/signin",
            },
        ),
        Err(error) => {
            let (status, message) = refusal(error);
            page(status, &Reset { token: &form.token, error: Some(message) })
        }
    }
}

async fn magic_page(Query(query): Query<TokenQuery>) -> Response {
    confirm_page("Sign in", "/magic-link", "Sign in", &query.token)
}

async fn magic(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<TokenQuery>,
) -> Response {
    match state.accounts.sign_in_with_link(&form.token, &client).await {
        Ok(signed) => signed_in(&state, signed),
        Err(error) => link_failed(error),
    }
}

async fn verify_page(Query(query): Query<TokenQuery>) -> Response {
    confirm_page("Confirm your address", "/verify-email", "Confirm", &query.token)
}

async fn verify(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<TokenQuery>,
) -> Response {
    let used = state.accounts.verify_email(&form.token, &client).await;
    link_used(used, "Address confirmed", "Thank you: your address is confirmed.")
}

async fn change_email_page(Query(query): Query<TokenQuery>) -> Response {
    confirm_page("Confirm your new address", "/change-email", "Use this address", &query.token)
}

async fn change_email(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<TokenQuery>,
) -> Response {
    let used = state.accounts.confirm_email_change(&form.token, &client).await;
    link_used(used, "Address changed", "Sign in with your new address from now on.")
}

/// The page after a link was used: `heading` and `message` on success, else why not.
fn link_used<T>(result: variosync_auth::Result<T>, heading: &str, message: &str) -> Response {
    match result {
        Ok(_) => page(StatusCode::OK, &Message { heading, message, next: "/account" }),
        Err(error) => link_failed(error),
    }
}

/// The page an e-mailed link opens: one button that posts the token.
fn confirm_page(heading: &str, action: &str, button: &str, token: &str) -> Response {
    page(StatusCode::OK, &Confirm { heading, action, button, token })
}

fn link_failed(error: variosync_auth::Error) -> Response {
    let (status, message) = refusal(error);
    // A link that is invalid, used or expired is gone, as a page says it.
    let gone = matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED);
    let status = if gone { StatusCode::GONE } else { status };
    page(
        status,
        &Message { heading: "This link cannot be used", message: &message, next: "/signin" },
    )
}
