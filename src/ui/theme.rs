//! The colour scheme a person chose: automatic (follow the system), light or dark.
//!
//! The choice lives in a cookie so the server renders it on the first byte, with or without
//! the browser bundle.

/// The cookie that holds the choice.
pub const COOKIE: &str = "numbat_theme";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "auto" => Some(Self::Auto),
            "light" => Some(Self::Light),
            "dark" => Some(Self::Dark),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }

    /// The next choice in the cycle auto → light → dark → auto.
    pub fn next(self) -> Self {
        match self {
            Self::Auto => Self::Light,
            Self::Light => Self::Dark,
            Self::Dark => Self::Auto,
        }
    }

    /// The `data-theme` attribute of `<html>`: none for automatic.
    pub fn attribute(self) -> Option<&'static str> {
        (self != Self::Auto).then(|| self.as_str())
    }

    /// Reads the choice from a `Cookie` header; anything missing or unknown is automatic.
    pub fn from_cookie_header(header: &str) -> Self {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .and_then(|(_, value)| Self::parse(value))
            .unwrap_or_default()
    }

    /// The `Set-Cookie` value that remembers this choice for a year.
    pub fn cookie(self) -> String {
        format!(
            "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            self.as_str()
        )
    }

    /// The choice in force for the page being rendered or hydrated.
    pub fn current() -> Self {
        #[cfg(feature = "hydrate")]
        {
            Self::from_document()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            Self::of_this_request()
        }
    }

    /// On the server: the choice the request's cookie carries.
    pub fn of_this_request() -> Self {
        #[cfg(feature = "ssr")]
        {
            use axum::http::{header::COOKIE as COOKIE_HEADER, request::Parts};
            leptos::prelude::use_context::<Parts>()
                .and_then(|parts| {
                    let header = parts.headers.get(COOKIE_HEADER)?.to_str().ok()?;
                    Some(Self::from_cookie_header(header))
                })
                .unwrap_or_default()
        }
        #[cfg(not(feature = "ssr"))]
        {
            Self::default()
        }
    }

    #[cfg(feature = "hydrate")]
    fn from_document() -> Self {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|html| html.get_attribute("data-theme"))
            .and_then(|value| Self::parse(&value))
            .unwrap_or_default()
    }

    /// In the browser: shows the choice at once and remembers it. Does nothing on the server.
    pub fn apply_in_browser(self) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(document) = web_sys::window().and_then(|w| w.document()) else {
                return;
            };
            if let Some(html) = document.document_element() {
                let _ = match self.attribute() {
                    Some(value) => html.set_attribute("data-theme", value),
                    None => html.remove_attribute("data-theme"),
                };
            }
            if let Ok(document) = document.dyn_into::<web_sys::HtmlDocument>() {
                let _ = document.set_cookie(&self.cookie());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cycle_visits_every_choice_and_returns() {
        let mut seen = vec![Theme::Auto];
        let mut theme = Theme::Auto.next();
        while theme != Theme::Auto {
            seen.push(theme);
            theme = theme.next();
        }
        assert_eq!(seen, [Theme::Auto, Theme::Light, Theme::Dark]);
    }

    #[test]
    fn the_cookie_is_found_among_others_and_junk_means_auto() {
        assert_eq!(
            Theme::from_cookie_header("a=1; numbat_theme=dark; b=2"),
            Theme::Dark
        );
        assert_eq!(
            Theme::from_cookie_header("numbat_theme=purple"),
            Theme::Auto
        );
        assert_eq!(Theme::from_cookie_header(""), Theme::Auto);
        assert_eq!(Theme::from_cookie_header("xnumbat_theme=dark"), Theme::Auto);
    }

    #[test]
    fn a_written_cookie_reads_back() {
        for theme in [Theme::Auto, Theme::Light, Theme::Dark] {
            let cookie = theme.cookie();
            let pair = cookie.split(';').next().unwrap();
            assert_eq!(Theme::from_cookie_header(pair), theme);
        }
    }
}
