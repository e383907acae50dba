//! The header (product name, navigation, theme switch) and footer shared by every page.

use super::theme::Theme;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

/// The sections of the portal, in the order the navigation shows them.
pub const SECTIONS: [(&str, &str); 7] = [
    ("/accounts", "Accounts"),
    ("/numbers", "Numbers"),
    ("/inventory", "Inventory"),
    ("/imports", "Imports"),
    ("/requests-for-information", "Requests for Information"),
    ("/review", "Review"),
    ("/audit", "Audit"),
];

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                <img src="/favicon.svg" alt="" width="28" height="28"/>
                <span>"Numbat"</span>
            </a>
            <nav aria-label="Main">
                <ul>
                    {SECTIONS
                        .iter()
                        .map(|(href, label)| view! { <li><A href=*href>{*label}</A></li> })
                        .collect_view()}
                </ul>
            </nav>
            <ThemeSwitch/>
            <UserMenu/>
        </header>
    }
}

/// Who is signed in, their roles, the admin pages when they may use them, and signing out.
#[component]
fn UserMenu() -> impl IntoView {
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await.ok().flatten().map(|me| view! {
                    <div class="user-menu">
                        <span class="who" data-testid="signed-in-as">
                            {me.name.clone()} <small>{format!(" ({})", me.roles_text())}</small>
                        </span>
                        {me.abilities.administer.then(|| view! {
                            <a href="/admin/users">"Users"</a>
                            <a href="/admin/tokens">"API tokens"</a>
                            <a href="/admin/webhooks">"Webhooks"</a>
                            <a href="/admin/settings">"Settings"</a>
                        })}
                        {me.local.then(|| view! { <a href="/password">"Password"</a> })}
                        <form method="post" action="/sign-out">
                            <button type="submit" class="link">"Sign out"</button>
                        </form>
                    </div>
                })
            })}
        </Suspense>
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <span>"Numbat " <span data-testid="version">{crate::VERSION}</span></span>
        </footer>
    }
}

/// Cycles the colour scheme (automatic, light, dark). Without JavaScript it is a GET form to
/// `/theme`, which sets a cookie and sends the browser back; with the bundle loaded it switches
/// in place, with no page load.
#[component]
fn ThemeSwitch() -> impl IntoView {
    let theme = RwSignal::new(Theme::current());
    let location = use_location();
    let switch_in_place = move |ev: SubmitEvent| {
        ev.prevent_default();
        let next = theme.get_untracked().next();
        theme.set(next);
        next.apply_in_browser();
    };
    view! {
        <form class="theme-switch" method="get" action="/theme" on:submit=switch_in_place>
            <input type="hidden" name="set" value=move || theme.get().next().as_str()/>
            <input type="hidden" name="back" value=move || location.pathname.get()/>
            <button type="submit" data-testid="theme-switch" title="Switch the colour scheme">
                "Theme: " {move || theme.get().as_str()}
            </button>
        </form>
    }
}
