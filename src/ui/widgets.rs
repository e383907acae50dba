//! Small pieces the pages share: notices, validating fields, status badges, pagers.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A server function's refusal, shown above the form it came from.
#[component]
pub fn ErrorNotice(message: String) -> impl IntoView {
    view! {
        <div class="notice error" role="alert">
            <strong>"Nothing was changed. "</strong>
            <ul>
                {message.lines().map(|line| view! { <li>{line.to_owned()}</li> }).collect_view()}
            </ul>
        </div>
    }
}

/// The lines of a form's refusal about the field `key`, shown beside that field (its id is
/// `error-<key>`, for the field's `aria-describedby`).
#[component]
pub fn FieldError(
    refusal: Signal<Option<ServerFnError>>,
    #[prop(into)] key: String,
) -> impl IntoView {
    let id = format!("error-{key}");
    view! {
        <small id=id class="field-error" aria-live="polite">
            {move || refusal.get().map(|e| super::access::field_errors(&e, &key).join(" "))}
        </small>
    }
}

/// The refusal of the last submission of `action`, if it failed.
pub fn refusal_of<I, O>(action: ServerAction<I>) -> Signal<Option<ServerFnError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = ServerFnError>
        + Clone
        + Send
        + Sync
        + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|result| result.err()))
}

/// A success or information message.
#[component]
pub fn Notice(children: Children) -> impl IntoView {
    view! { <div class="notice info" role="status">{children()}</div> }
}

/// What to show when a page's data could not be loaded: the reason, and where to go.
#[component]
pub fn LoadError(message: String) -> impl IntoView {
    let signed_out = message.starts_with("You are signed out");
    view! {
        <div class="notice error" role="alert">
            <p>{message}</p>
            {if signed_out {
                view! { <p><a href="/sign-in">"Sign in"</a></p> }.into_any()
            } else {
                view! { <p><a href="/">"Back to the start"</a></p> }.into_any()
            }}
        </div>
    }
}

/// The error of the last submission of `action`, if it failed.
pub fn action_error<I, O>(action: ServerAction<I>) -> impl IntoView
where
    I: leptos::server_fn::ServerFn<Output = O, Error = ServerFnError>
        + Clone
        + Send
        + Sync
        + 'static,
    O: Clone + Send + Sync + 'static,
{
    let refusal = refusal_of(action);
    move || {
        refusal
            .get()
            .map(|error| view! { <ErrorNotice message=super::access::error_text(&error)/> })
    }
}

/// A text input that checks itself as the person types (with the bundle loaded) using the same
/// parser the server uses; the server checks again on submit either way.
#[component]
pub fn CheckedInput(
    /// The form field's name.
    name: &'static str,
    label: &'static str,
    #[prop(into)] value: String,
    /// `None` when the text is acceptable, else why not.
    check: fn(&str) -> Option<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional)] required: bool,
    #[prop(optional)] readonly: bool,
    #[prop(optional)] disabled: bool,
) -> impl IntoView {
    let problem = RwSignal::new(None::<String>);
    let id = format!("field-{}", name.replace(['[', ']'], "-"));
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = format!("{hint_id} {error_id}");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                value=value
                required=required
                readonly=readonly
                disabled=disabled
                aria-describedby=described_by
                aria-invalid=move || problem.get().is_some().then_some("true")
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    problem.set(if text.is_empty() { None } else { check(&text) });
                }
            />
            <small id=hint_id class="hint">{hint}</small>
            <small id=error_id class="field-error" aria-live="polite">{move || problem.get()}</small>
        </div>
    }
}

/// A checkbox with its label.
#[component]
pub fn Checkbox(
    #[prop(into)] name: String,
    #[prop(into)] label: String,
    checked: bool,
    #[prop(optional)] disabled: bool,
) -> impl IntoView {
    view! {
        <label class="check">
            <input type="checkbox" name=name checked=checked disabled=disabled/>
            " "
            {label}
        </label>
    }
}

/// A provisioning status (pending, synced, failed) as a badge.
#[component]
pub fn SyncBadge(status: String) -> impl IntoView {
    let class = format!("badge sync-{status}");
    view! { <span class=class>{status}</span> }
}

/// Links to the first and next pages of a keyset-paged list, keeping the page's other query
/// parameters. `next_after` is the last key shown when there may be more.
#[component]
pub fn Pager(
    path: &'static str,
    next_after: Option<String>,
    shown: usize,
    total: String,
) -> impl IntoView {
    let query = use_query_map();
    let link = move |after: Option<&str>| {
        let mut pairs: Vec<(String, String)> = query
            .get_untracked()
            .into_iter()
            .filter(|(k, _)| k != "after")
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        if let Some(after) = after {
            pairs.push(("after".to_owned(), after.to_owned()));
        }
        let text: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if text.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", text.join("&"))
        }
    };
    let on_later_page = query.get_untracked().get("after").is_some();
    view! {
        <nav class="pager" aria-label="Pages">
            <span>{format!("Showing {shown} of {total}")}</span>
            {on_later_page.then(|| view! { <a href=link(None)>"First page"</a> })}
            {next_after.map(|after| view! { <a href=link(Some(&after)) rel="next">"Next page"</a> })}
        </nav>
    }
}

/// Cuts a list read with one row more than a page down to the page; true when more follow.
#[cfg(feature = "ssr")]
pub fn keep_page<T>(rows: &mut Vec<T>, page: i64) -> bool {
    let page = usize::try_from(page).unwrap_or(0);
    let more = rows.len() > page;
    rows.truncate(page);
    more
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `key=value&…` of the pairs whose value is given and not empty, values percent-encoded.
pub fn query_string(pairs: &[(&str, &Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `path`, with `?query` when there is one.
pub fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// A count with its noun as people write it: "1 number", "2 numbers", "0 numbers".
pub fn counted(count: i64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// A count for people: exact below the cap, "more than" at it.
#[cfg(feature = "ssr")]
pub fn count_text(count: i64, capped_at: i64) -> String {
    if count > capped_at {
        format!("more than {capped_at}")
    } else {
        count.to_string()
    }
}

/// `Some(text)` unless it is empty or only spaces.
#[cfg(feature = "ssr")]
pub fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The refused numbers of an action with a result per number, as `number Code` pairs (at most
/// `max`), for the page's address: what [`refusals_in_address`] reads back.
#[cfg(feature = "ssr")]
pub fn refusal_pairs(
    report: &crate::provisioning::inventory::ActionReport,
    max: usize,
) -> Vec<String> {
    use crate::provisioning::inventory::ActionOutcome;
    report
        .results
        .iter()
        .filter(|r| r.outcome == ActionOutcome::Refused)
        .take(max)
        .filter_map(|r| {
            r.violation
                .as_ref()
                .map(|v| format!("{} {}", r.telephone_number, v.code))
        })
        .collect()
}

/// The `number Code` pairs an address's `why` carries (at most `max`), keeping only real numbers
/// with real codes: a link someone made up cannot put words of its own on the page.
pub fn refusals_in_address(why: Option<String>, max: usize) -> Vec<String> {
    why.map(|w| {
        w.split(';')
            .take(max)
            .filter(|line| {
                line.split_once(' ').is_some_and(|(number, code)| {
                    crate::domain::TelephoneNumber::parse(number).is_ok()
                        && crate::domain::Code::ALL.iter().any(|c| c.as_str() == code)
                })
            })
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}
