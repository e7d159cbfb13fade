//! The pages' forms carry the session's CSRF token (an HMAC of the session under the server's
//! key, made and checked by `auth::Access`) in a hidden field; a form posted without the token of
//! the session that sends it is refused before anything runs.

use crate::api::auth::Signed;
use crate::api::AppState;
use maud::{html, Markup};

/// The name of the hidden form field that carries the token.
pub const FIELD: &str = "csrf";

/// The hidden field for a form of `signed`'s pages.
pub fn field(signed: &Signed) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(signed.csrf); }
}

/// True when `token` is the one of `signed`'s session.
pub fn verify(state: &AppState, signed: &Signed, token: Option<&str>) -> bool {
    state.inner.access.verify_csrf(signed, token)
}
