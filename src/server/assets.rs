//! Files compiled into the binary (stylesheet, icon) and the no-JavaScript theme switch.

use crate::ui::theme::Theme;
use axum::extract::Query;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

const STYLESHEET: &str = include_str!("../../style/numbat.css");
const FAVICON: &str = include_str!("../../public/favicon.svg");
const REVALIDATE: &str = "no-cache";

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, REVALIDATE),
        ],
        STYLESHEET,
    )
}

pub async fn favicon() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "image/svg+xml"), (CACHE_CONTROL, REVALIDATE)],
        FAVICON,
    )
}

#[derive(Debug, Deserialize)]
pub struct ThemeChoice {
    set: String,
    #[serde(default)]
    back: String,
}

/// `GET /theme?set=dark&back=/numbers`: remembers the choice and returns to the page.
pub async fn set_theme(Query(choice): Query<ThemeChoice>) -> impl IntoResponse {
    let Some(theme) = Theme::parse(&choice.set) else {
        return (
            StatusCode::BAD_REQUEST,
            "set: must be one of auto, light, dark".to_owned(),
        )
            .into_response();
    };
    (
        [(SET_COOKIE, theme.cookie())],
        crate::ui::http::redirect::see_other_local(&choice.back),
    )
        .into_response()
}
