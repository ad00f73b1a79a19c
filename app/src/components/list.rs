//! The kit for list pages whose filters live in the URL (the 2FA tab, the login audit, the
//! outbox), so a reload or a shared link shows the same view: one query-string builder
//! (`ListUrl`), the page's view of its URL (`ListFilters`), the filter form and its fields, the
//! page size, and the pager with its count line. A page makes its `ListFilters` at its top; the
//! parts below find it in the context.

use crate::{
    components::status::{count, Loaded, PageHeader},
    models::{AppError, LoginAuditPage, OutboxPage, TwoFactorPage, PAGE_SIZES},
};
use crate::components::resource::Resource;
use leptos::{ev::SubmitEvent, prelude::*, web_sys};
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_query_map},
    params::ParamsMap,
    NavigateOptions,
};
use std::{sync::Arc, time::Duration};

/// A list page's URL: the keys it carries, in the order it lists them (the page number comes
/// last), and the values that go without saying, which it leaves out.
#[derive(Clone, Copy, Debug)]
pub struct ListUrl {
    pub path: &'static str,
    /// The filters, with the page size (`size`) among them.
    pub keys: &'static [&'static str],
    pub default_size: u64,
    /// Other values left out, such as the default sort: `("sort", "name")`.
    pub defaults: &'static [(&'static str, &'static str)],
}

impl ListUrl {
    /// The URL with `get`'s value for each key, trimmed, and `page`; empty values and defaults
    /// are left out, and so is page 1.
    pub fn href(&self, get: impl Fn(&str) -> String, page: u64) -> String {
        let mut parts: Vec<String> = Vec::new();
        for key in self.keys {
            let value = get(key);
            let value = value.trim();
            if !value.is_empty() && !self.is_default(key, value) {
                parts.push(format!("{key}={}", encode(value)));
            }
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            self.path.to_owned()
        } else {
            format!("{}?{}", self.path, parts.join("&"))
        }
    }

    fn is_default(&self, key: &str, value: &str) -> bool {
        if key == "size" {
            return value.parse::<u64>().ok() == Some(self.default_size);
        }
        self.defaults.iter().any(|(k, v)| *k == key && *v == value)
    }
}

type Navigate = Arc<dyn Fn(&str, NavigateOptions) + Send + Sync>;

/// A list page's view as its URL says it, and the way to change it.
#[derive(Clone, Copy)]
pub struct ListFilters {
    url: ListUrl,
    query: Memo<ParamsMap>,
    navigate: StoredValue<Navigate>,
}

impl ListFilters {
    /// Reads the page's URL, and provides itself to the kit's parts on the page.
    pub fn new(url: ListUrl) -> Self {
        let navigate: Navigate = Arc::new(use_navigate());
        let filters = Self { url, query: use_query_map(), navigate: StoredValue::new(navigate) };
        provide_context(filters);
        filters
    }

    /// A value of the URL, if it names the key (tracked).
    pub fn param(&self, key: &str) -> Option<String> {
        self.query.read().get(key)
    }

    /// A value of the URL, empty when it is not there (tracked).
    pub fn get(&self, key: &str) -> String {
        self.param(key).unwrap_or_default()
    }

    pub fn get_untracked(&self, key: &str) -> String {
        self.query.read_untracked().get(key).unwrap_or_default()
    }

    /// The page number, 1 unless the URL says a larger one.
    pub fn page(&self) -> u64 {
        self.query.read().get("page").and_then(|p| p.parse::<u64>().ok()).filter(|p| *p > 0).unwrap_or(1)
    }

    /// The page size: one of `PAGE_SIZES`, else the page's default.
    pub fn size(&self) -> u64 {
        self.query
            .read()
            .get("size")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| PAGE_SIZES.contains(s))
            .unwrap_or(self.url.default_size)
    }

    /// Whether any filter is set (the page size is not a filter).
    pub fn filtered(&self) -> bool {
        self.url.keys.iter().any(|k| *k != "size" && !self.get(k).trim().is_empty())
    }

    /// The URL with `key` set to `value`, the other values as they are, and `page`.
    pub fn href_with(&self, key: &str, value: &str, page: u64) -> String {
        let query = self.query.read_untracked();
        self.url.href(|k| if k == key { value.to_owned() } else { query.get(k).unwrap_or_default() }, page)
    }

    /// Shows the first page of the view with `key` set to `value`. `replace` replaces the
    /// history entry (typing, the region), so Back is not a trap of half-typed searches.
    pub fn set(&self, key: &str, value: &str, replace: bool) {
        self.go(&self.href_with(key, value, 1), replace);
    }

    /// Applies every field of the form at once (its submit); a value the form does not hold
    /// (a field still loading, a filter without a field) stays as the URL has it.
    fn apply_form(&self, form: &web_sys::HtmlFormElement) {
        let Ok(data) = web_sys::FormData::new_with_form(form) else { return };
        let query = self.query.get_untracked();
        let href = self.url.href(|k| data.get(k).as_string().unwrap_or_else(|| query.get(k).unwrap_or_default()), 1);
        let here = self.url.href(|k| query.get(k).unwrap_or_default(), self.page_untracked());
        if href != here {
            self.go(&href, false);
        }
    }

    fn page_untracked(&self) -> u64 {
        self.query.read_untracked().get("page").and_then(|p| p.parse::<u64>().ok()).filter(|p| *p > 0).unwrap_or(1)
    }

    fn go(&self, href: &str, replace: bool) {
        if let Some(navigate) = self.navigate.try_get_value() {
            navigate(href, NavigateOptions { scroll: false, replace, ..Default::default() });
        }
    }
}

fn filters() -> ListFilters {
    expect_context::<ListFilters>()
}

/// A list page's frame: its title, what it lists (`intro`), and a panel for the filters and the
/// list (`children`).
#[component]
pub fn ListPage(
    title: &'static str,
    crumbs: &'static [&'static str],
    intro: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <Title text=title />
        <PageHeader title crumbs>
            <p>{intro}</p>
        </PageHeader>
        <section class="panel">{children()}</section>
    }
}

/// The filters (`children`), the page size, the submit button (`submit` is its text) and, with
/// `clear`, a link that clears them. A GET form, so it works before the wasm has loaded; once
/// it has, each field applies as soon as it changes, and submitting applies them all.
#[component]
pub fn FilterForm(
    label: &'static str,
    submit: &'static str,
    #[prop(optional)] clear: bool,
    children: Children,
) -> impl IntoView {
    let filters = filters();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        filters.apply_form(&event_target::<web_sys::HtmlFormElement>(&ev));
    };
    view! {
        <form method="GET" action=filters.url.path on:submit=on_submit aria-label=label>
            <div class="toolbar">
                {children()}
                <PageSize />
                <button type="submit" class="button button-secondary">
                    {submit}
                </button>
                {clear.then(|| view! { <ClearFilters /> })}
            </div>
        </form>
    }
}

/// A select of fixed options; `default` is the option shown when the URL has none.
#[component]
pub fn FilterSelect(
    name: &'static str,
    label: &'static str,
    options: &'static [(&'static str, &'static str)],
    #[prop(optional)] default: &'static str,
) -> impl IntoView {
    let filters = filters();
    let current = move || Some(filters.get(name)).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned());
    view! {
        <label class="inline-field">
            {label}
            <select name=name on:change=move |ev| filters.set(name, &event_target_value(&ev), false)>
                {options
                    .iter()
                    .map(|(v, t)| {
                        let on = move || current() == *v;
                        view! {
                            <option value=*v selected=on prop:selected=on>
                                {*t}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// A select whose options the server gives (`choice` makes each a value and its text), after
/// an option for all; disabled while they load.
#[component]
pub fn LoadedSelect<T>(
    name: &'static str,
    label: &'static str,
    all: &'static str,
    options: Resource<Result<Vec<T>, AppError>>,
    choice: fn(T) -> (String, String),
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    let filters = filters();
    let fallback = move || {
        view! {
            <label class="inline-field">
                {label} <select name=name disabled>
                    <option value="">{all}</option>
                </select>
            </label>
        }
    };
    view! {
        <Transition fallback>
            {move || Suspend::new(async move {
                let options = options.await.unwrap_or_default().into_iter().map(choice).collect();
                view! {
                    <label class="inline-field">
                        {label}
                        <select name=name on:change=move |ev| filters.set(name, &event_target_value(&ev), false)>
                            {options_with_all(all, options, move || filters.get(name))}
                        </select>
                    </label>
                }
            })}
        </Transition>
    }
}

/// The options of a select of loaded choices: `all` (the empty value) first, then each
/// `(value, text)`; the one `current` names is selected.
pub fn options_with_all(
    all: &'static str,
    options: Vec<(String, String)>,
    current: impl Fn() -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let none = move || current().is_empty();
    view! {
        <option value="" selected=none prop:selected=none>
            {all}
        </option>
        {options
            .into_iter()
            .map(|(value, text)| {
                let v = value.clone();
                let on = move || current() == v;
                view! {
                    <option value=value selected=on.clone() prop:selected=on>
                        {text}
                    </option>
                }
            })
            .collect_view()}
    }
}

/// A text, date or other input, applied when it changes (Enter, or leaving the field).
#[component]
pub fn FilterInput(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] maxlength: Option<&'static str>,
) -> impl IntoView {
    let filters = filters();
    view! {
        <label class="inline-field">
            {label}
            <input
                type=kind
                name=name
                maxlength=maxlength
                placeholder=placeholder
                prop:value=move || filters.get(name)
                on:change=move |ev| filters.set(name, &event_target_value(&ev), false)
            />
        </label>
    }
}

/// A search box that searches once typing pauses (the form's submit searches at once). Its
/// label is its placeholder, read by screen readers too.
#[component]
pub fn FilterSearch(name: &'static str, label: &'static str) -> impl IntoView {
    let filters = filters();
    let typing = StoredValue::new(None::<TimeoutHandle>);
    let stop = move || {
        if let Some(h) = typing.try_get_value().flatten() {
            h.clear();
        }
    };
    on_cleanup(stop);
    let on_input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        stop();
        let search = move || {
            if value.trim() != filters.get_untracked(name).trim() {
                filters.set(name, &value, true);
            }
        };
        typing.set_value(set_timeout_with_handle(search, Duration::from_millis(400)).ok());
    };
    view! {
        <label class="search">
            <span class="visually-hidden">{label}</span>
            // Set once: the box keeps what is typed while the list catches up.
            <input type="search" name=name placeholder=label value=filters.get_untracked(name) on:input=on_input />
        </label>
    }
}

/// "Per page", from `PAGE_SIZES`.
#[component]
fn PageSize() -> impl IntoView {
    let filters = filters();
    view! {
        <label class="inline-field">
            "Per page"
            <select name="size" on:change=move |ev| filters.set("size", &event_target_value(&ev), false)>
                {PAGE_SIZES
                    .iter()
                    .map(|s| {
                        let s = *s;
                        let on = move || filters.size() == s;
                        view! {
                            <option value=s.to_string() selected=on prop:selected=on>
                                {s.to_string()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// "Clear filters", while any is set.
#[component]
fn ClearFilters() -> impl IntoView {
    let filters = filters();
    move || filters.filtered().then(|| view! { <A href=filters.url.path>"Clear filters"</A> })
}

/// One page of a list, as its server function returns it.
pub trait Paged {
    /// The rows on this page, the total, the page number and the page size.
    fn counts(&self) -> (usize, u64, u64, u64);
}

macro_rules! paged {
    ($($page:ty),*) => {$(
        impl Paged for $page {
            fn counts(&self) -> (usize, u64, u64, u64) {
                (self.items.len(), self.total, self.page, self.page_size)
            }
        }
    )*};
}
paged!(LoginAuditPage, OutboxPage, TwoFactorPage);

/// The list as it loads: "Loading…", its error, what an empty page says (`no_match` while a
/// filter is set, else `empty`), or `rows` of the page and then the pager, which counts `one`
/// or `many`.
#[component]
pub fn ListResults<T, V, F>(
    resource: Resource<Result<T, AppError>>,
    no_match: &'static str,
    empty: &'static str,
    one: &'static str,
    many: &'static str,
    rows: F,
) -> impl IntoView
where
    T: Paged + Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    let filters = filters();
    let ok = move |page: T| {
        let (shown, total, number, size) = page.counts();
        if shown == 0 {
            let text = if filters.filtered() { no_match } else { empty };
            return view! { <p class="empty">{text}</p> }.into_any();
        }
        view! {
            {rows(page)}
            <Pager total page=number page_size=size one many />
        }
        .into_any()
    };
    view! { <Loaded resource ok /> }
}

/// The count line ("25 servers · page 1 of 3") and the links to the previous and next pages,
/// which keep the filters.
#[component]
pub fn Pager(total: u64, page: u64, page_size: u64, one: &'static str, many: &'static str) -> impl IntoView {
    let filters = filters();
    let pages = total.div_ceil(page_size.max(1)).max(1);
    let size = page_size.to_string();
    let link = |p: u64| filters.href_with("size", &size, p);
    let prev = (page > 1).then(|| link(page - 1));
    let next = (page < pages).then(|| link(page + 1));
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="pager-total">{format!("{} · page {page} of {pages}", count(total, one, many))}</span>
            {pager_link(prev, "Previous", "prev")}
            {pager_link(next, "Next", "next")}
        </nav>
    }
}

/// A pager button: a link to the page, or a disabled button where there is none.
fn pager_link(href: Option<String>, label: &'static str, rel: &'static str) -> AnyView {
    match href {
        Some(href) => view! {
            <A href=href attr:class="button button-secondary" attr:rel=rel>
                {label}
            </A>
        }
        .into_any(),
        None => view! {
            <span class="button button-secondary" aria-disabled="true">
                {label}
            </span>
        }
        .into_any(),
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ListUrl;

    const URL: ListUrl = ListUrl {
        path: "/list",
        keys: &["search", "status", "sort", "size", "region"],
        default_size: 10,
        defaults: &[("sort", "name")],
    };

    fn href(values: &[(&str, &str)], page: u64) -> String {
        URL.href(|k| values.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()).unwrap_or_default(), page)
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("web 01&x=1"), "web%2001%26x%3D1");
        assert_eq!(super::encode("192.168.10.35"), "192.168.10.35");
    }

    #[test]
    fn the_url_lists_the_keys_in_order_and_leaves_out_empty_values_and_defaults() {
        assert_eq!(href(&[], 1), "/list");
        assert_eq!(href(&[("status", " "), ("sort", "name"), ("size", "10")], 1), "/list");
        assert_eq!(
            href(&[("region", "eu"), ("size", "50"), ("search", " web 01 "), ("sort", "-name")], 3),
            "/list?search=web%2001&sort=-name&size=50&region=eu&page=3"
        );
        assert_eq!(href(&[("page", "4")], 1), "/list", "the page is the caller's");
    }
}
