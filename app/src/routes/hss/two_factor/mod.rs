//! Host Security → Installation & Configuration → Two-Factor Authentication: the servers with
//! their 2FA status, filters, batch and per-row Enable / Disable / Change Topic through one
//! dialog, cancel and retry, live status, and the agent install command.

mod dialog;
mod install;
mod table;

use self::{
    dialog::{ChangeDialog, ChangeOutcome},
    install::InstallAgent,
    table::ServerTable,
};
use crate::{
    components::{
        layout::RegionState,
        list::{FilterForm, FilterSearch, FilterSelect, ListFilters, ListUrl},
        poll::poll_every,
        status::{Loaded, PageHeader},
        urn::LastCopied,
    },
    functions::two_factor::{list_two_factor, CancelTwoFactor, RetryTwoFactor, SaveTwoFactor},
    models::{
        two_factor::{ChangeAction, TwoFactorQuery},
        AppError, ChangeResult, TwoFactorRow, Uuid,
    },
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;
use std::{collections::BTreeMap, time::Duration};

/// The tab's URL: the sort by name and 10 a page say nothing.
const TAB: ListUrl = ListUrl {
    path: "/hss/two-factor",
    keys: &["search", "status", "os", "method", "sort", "size", "region"],
    default_size: 10,
    defaults: &[("sort", "name")],
};
type Options = &'static [(&'static str, &'static str)];
const STATUSES: Options = &[
    ("", "All"),
    ("enabled", "Enabled"),
    ("disabled", "Disabled"),
    ("enabling", "Enabling"),
    ("disabling", "Disabling"),
    ("failed", "Failed"),
];
const OSES: Options = &[("", "All"), ("linux", "Linux"), ("windows", "Windows")];
const METHODS: Options = &[("", "All"), ("sms", "SMS/Email"), ("code", "Verification code")];
const SORTS: Options = &[("name", "Name A–Z"), ("-name", "Name Z–A"), ("os", "OS"), ("status", "2FA Status")];

#[derive(Clone, Debug)]
struct Dialog {
    action: ChangeAction,
    rows: Vec<TwoFactorRow>,
}

/// What the page shares with its parts. The list is keyed on the actions' versions, so it
/// loads again after each save, cancel and retry.
#[derive(Clone, Copy)]
struct TabState {
    selected: RwSignal<BTreeMap<Uuid, TwoFactorRow>>,
    dialog: RwSignal<Option<Dialog>>,
    save: ServerAction<SaveTwoFactor>,
    cancel: ServerAction<CancelTwoFactor>,
    retry: ServerAction<RetryTwoFactor>,
    /// The console's apply delay, from the last list.
    delay_secs: RwSignal<Option<i64>>,
}

impl TabState {
    fn open(&self, action: ChangeAction, rows: Vec<TwoFactorRow>) {
        if !rows.is_empty() {
            // The dialog shows this save's outcome, not the last one's.
            self.save.value().set(None);
            self.dialog.set(Some(Dialog { action, rows }));
        }
    }
}

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    // A filter applies as soon as it changes, on the first page of the new view.
    let filters = ListFilters::new(TAB);
    let region = expect_context::<RegionState>().0;
    let state = TabState {
        selected: RwSignal::new(BTreeMap::new()),
        dialog: RwSignal::new(None),
        save: ServerAction::new(),
        cancel: ServerAction::new(),
        retry: ServerAction::new(),
        delay_secs: RwSignal::new(None),
    };
    // The rows redraw every 2 s; "Copied" stays.
    provide_context(LastCopied(RwSignal::new(None)));
    // The region lives in the top bar; the URL carries it too, so a shared link shows the
    // same servers. A region in the URL wins when the page opens.
    Effect::new(move |_| {
        if let Some(r) = filters.param("region") {
            if region.get_untracked() != r {
                region.set(r);
            }
        }
    });
    Effect::new(move |first: Option<()>| {
        let chosen = region.get();
        let in_url = untrack(|| filters.param("region"));
        let opening_with_region = first.is_none() && in_url.is_some();
        if !opening_with_region && in_url.unwrap_or_default() != chosen {
            filters.set("region", &chosen, true);
        }
    });
    let query = move || TwoFactorQuery {
        search: filters.get("search"),
        status: filters.get("status"),
        os_type: filters.get("os"),
        method: filters.get("method"),
        sort: filters.get("sort"),
        region: region.get(),
        page: filters.page(),
        page_size: filters.size(),
    };
    let servers = resource(
        move || (state.save.version().get(), state.cancel.version().get(), state.retry.version().get(), query()),
        |(_, _, _, query)| list_two_factor(query),
    );
    Effect::new(move |_| {
        if let Some(Ok(p)) = servers.get() {
            state.delay_secs.set(Some(p.apply_delay_secs));
        }
    });
    // Statuses move on their own (the delay runs out, agents acknowledge): look again every 2 s,
    // and redraw the list only when something in it changed (redrawing every row every 2 s
    // kept the browser busy and dropped the focus of a row's button).
    poll_every(Duration::from_secs(2), move || {
        let asked = untrack(query);
        leptos::task::spawn_local(async move {
            let fresh = list_two_factor(asked.clone()).await;
            // Left the page meanwhile, or a filter changed (the resource loads that view itself).
            if servers.is_disposed() || untrack(query) != asked {
                return;
            }
            // What is on screen, read from the resource's value itself: a read of the resource
            // outside a <Transition/> warns while hydrating, rightly for views, not for a poll.
            let shown = (*servers).get_untracked();
            if shown.as_ref() != Some(&fresh) {
                servers.set(Some(fresh));
            }
        });
    });
    // The message above the list: the newest cancel, retry, or save that left nothing refused
    // (a save with refusals keeps its dialog open and shows them there).
    let outcome = RwSignal::new(None::<Result<ChangeResult, AppError>>);
    Effect::new(move |_| {
        if let Some(r) = state.cancel.value().get() {
            outcome.set(Some(r));
        }
    });
    Effect::new(move |_| {
        if let Some(r) = state.retry.value().get() {
            outcome.set(Some(r));
        }
    });
    Effect::new(move |_| {
        let Some(r) = state.save.value().get() else { return };
        if r.is_ok() {
            state.selected.set(BTreeMap::new());
        }
        if matches!(&r, Ok(c) if c.refused.is_empty()) {
            state.dialog.set(None);
            outcome.set(Some(r));
        }
    });
    // A new page or filter starts a new selection.
    Effect::new(move |_| {
        let _ = ["search", "status", "os", "method"].map(|k| filters.get(k));
        let _ = (filters.page(), filters.size(), region.get());
        state.selected.set(BTreeMap::new());
    });

    let open = move |action: ChangeAction| state.open(action, state.selected.get_untracked().into_values().collect());
    let none_selected = move || state.selected.read().is_empty();
    // A batch button: the dialog's action for every selected server; the dialog's title is its text.
    let batch = move |id: &'static str, class: &'static str, action: ChangeAction| {
        view! {
            <button id=id class=class disabled=none_selected on:click=move |_| open(action)>
                {dialog::title(action)}
            </button>
        }
    };

    view! {
        <Title text="Two-Factor Authentication" />
        <PageHeader title="Two-Factor Authentication" crumbs=&["Host Security", "Installation & Configuration"]>
            <p>
                "Two-factor authentication asks everyone who logs in to a server for a verification code after their password. "
                "Servers appear here when their agent registers."
            </p>
        </PageHeader>
        <InstallAgent />
        <section class="panel">
            // "Search" searches at once; typing searches anyway once it pauses.
            <FilterForm label="Filter servers" submit="Search">
                <FilterSearch name="search" label="Search by server name or IP address" />
                <FilterSelect name="status" label="2FA Status" options=STATUSES />
                <FilterSelect name="os" label="OS" options=OSES />
                <FilterSelect name="method" label="Method" options=METHODS />
                <FilterSelect name="sort" label="Sort" options=SORTS default="name" />
            </FilterForm>
            <div class="toolbar batch-bar" role="group" aria-label="Batch actions">
                {batch("batch-enable", "button button-primary", ChangeAction::Enable)}
                {batch("batch-disable", "button button-secondary", ChangeAction::Disable)}
                {batch("batch-topic", "button button-secondary", ChangeAction::ChangeTopic)}
                <span class="muted small" aria-live="polite">
                    {move || match state.selected.read().len() {
                        0 => "Select servers to change several at once.".to_owned(),
                        n => format!("{n} selected"),
                    }}
                </span>
            </div>
            <ChangeOutcome value=outcome.into() />
            <Loaded
                resource=servers
                ok=move |page| {
                    let search = filters.get("search");
                    view! { <ServerTable page search state /> }
                }
            />
        </section>
        {move || state.dialog.get().map(|d| view! { <ChangeDialog dialog=d state /> })}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_url_carries_every_filter_and_nothing_empty() {
        let url = |q: &'static [(&'static str, &'static str)], key: &str, value: &str, page: u64| {
            let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()).unwrap_or_default();
            super::TAB.href(|k| if k == key { value.to_owned() } else { get(k) }, page)
        };
        assert_eq!(url(&[], "status", "", 1), "/hss/two-factor");
        assert_eq!(
            url(&[("search", "web 01"), ("os", "linux"), ("region", "eu-west-101")], "status", "failed", 1),
            "/hss/two-factor?search=web%2001&status=failed&os=linux&region=eu-west-101"
        );
        // A changed filter leaves the page; the pager keeps the filters; defaults are left out.
        assert_eq!(
            url(&[("status", "enabled"), ("sort", "-name"), ("page", "3")], "size", "50", 2),
            "/hss/two-factor?status=enabled&sort=-name&size=50&page=2"
        );
        assert_eq!(url(&[("sort", "name"), ("size", "10")], "status", "", 1), "/hss/two-factor");
    }
}
