//! Files compiled into the binary (stylesheet, icon) and the no-JavaScript theme switch.

use crate::ui::theme::Theme;
use axum::extract::Query;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
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
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, theme.cookie()),
            (LOCATION, local_path_or_root(&choice.back)),
        ],
    )
        .into_response()
}

/// Only a path on this site may be a redirect target (`/x`, not `//evil.example` or `https://…`).
fn local_path_or_root(back: &str) -> String {
    let local = back.starts_with('/') && !back.starts_with("//") && !back.contains('\\');
    if local { back } else { "/" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::local_path_or_root;

    #[test]
    fn only_local_paths_are_followed_back() {
        assert_eq!(local_path_or_root("/numbers"), "/numbers");
        assert_eq!(local_path_or_root("//evil.example/"), "/");
        assert_eq!(local_path_or_root("https://evil.example/"), "/");
        assert_eq!(local_path_or_root("/\\evil.example"), "/");
        assert_eq!(local_path_or_root(""), "/");
    }
}
