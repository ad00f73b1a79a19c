//! IAM → Users: the tenant's end users, each with where their account stands, their sign-in
//! methods (by name and kind, never secrets), server accounts, last sign-in and invitation.
//! Invite (by email or SMS), resend or revoke an invitation, lock and unlock, and help someone
//! who lost a phone: remove the lost factor, send a new invitation. Filters live in the URL.

use crate::{
    components::{
        form::{RowAction, SubmitButton, TextField},
        list::{FilterForm, FilterSearch, FilterSelect, ListFilters, ListResults, ListUrl, Paged},
        status::{status_badge, FormResult, PageHeader},
    },
    functions::users::{
        list_users, InviteAgain, InviteUser, LockUser, RemoveFactor, ResendInvitation, RevokeInvitation, UnlockUser,
    },
    models::{
        users::{FactorKind, InvitationRow, InvitationSent, InvitationStatus, PersonRow, UserState, UsersPage, UsersQuery},
        utc, Channel, Label,
    },
};
use crate::components::resource::resource;
use leptos::prelude::*;
use leptos_meta::Title;

pub(crate) const USERS: ListUrl =
    ListUrl { path: "/iam/users", keys: &["search", "state", "size"], default_size: 20, defaults: &[] };

impl Paged for UsersPage {
    fn counts(&self) -> (usize, u64, u64, u64) {
        (self.items.len(), self.total, self.page, self.page_size)
    }
}

const STATES: &[(&str, &str)] = &[("", "All"), ("invited", "Invited"), ("active", "Active"), ("locked", "Locked")];
const NO_MATCH: &str = "No users match these filters. Clear or widen them to see more.";
const EMPTY: &str = "Your tenant has no users who log in to servers yet. Invite the first one above.";

fn sent_text(s: &InvitationSent) -> String {
    let how = if s.channel == Channel::Sms { "by SMS" } else { "by email" };
    format!("Invitation sent to {} {how} ({}). The link works until {}.", s.email, s.address, utc(s.expires))
}

/// The page's actions, shared by every row.
#[derive(Clone, Copy)]
struct Actions {
    again: ServerAction<InviteAgain>,
    resend: ServerAction<ResendInvitation>,
    revoke: ServerAction<RevokeInvitation>,
    lock: ServerAction<LockUser>,
    unlock: ServerAction<UnlockUser>,
    remove: ServerAction<RemoveFactor>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let filters = ListFilters::new(USERS);
    let invite = ServerAction::<InviteUser>::new();
    let a = Actions {
        again: ServerAction::new(),
        resend: ServerAction::new(),
        revoke: ServerAction::new(),
        lock: ServerAction::new(),
        unlock: ServerAction::new(),
        remove: ServerAction::new(),
    };
    let people = resource(
        move || {
            (
                UsersQuery {
                    search: filters.get("search"),
                    state: filters.get("state"),
                    page: filters.page(),
                    page_size: filters.size(),
                },
                (invite.version().get(), a.again.version().get(), a.resend.version().get()),
                (a.revoke.version().get(), a.lock.version().get(), a.unlock.version().get(), a.remove.version().get()),
            )
        },
        |(q, _, _)| list_users(q),
    );
    view! {
        <Title text="Users" />
        <PageHeader title="Users" crumbs=&["Identity and Access Management"]>
            <p>
                "The people who log in to your servers. Invite each one: the link lets them choose a password and add an "
                "authenticator app, and their account is active once they have. Someone who lost their phone: remove the "
                "lost sign-in method and send them a new invitation. Every change here is in the audit trail."
            </p>
        </PageHeader>
        <section class="panel" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite a user"</h2>
            <ActionForm action=invite attr:class="form-grid">
                <TextField id="invite-email" label="Email (sign-in name)" name="email" kind="email" required=true maxlength="254" autocomplete="off" />
                <TextField id="invite-name" label="Name" name="display_name" maxlength="128" autocomplete="off" />
                <SendBy id="invite" />
                <SubmitButton label="Send invitation" pending=invite.pending() />
            </ActionForm>
            <FormResult value=invite.value() success=|s: InvitationSent| sent_text(&s) />
        </section>
        <super::push_policy::PushPolicyPanel />
        <section class="panel" aria-labelledby="people-heading">
            <h2 id="people-heading">"People"</h2>
            <FilterForm label="Filter users" submit="Search" clear=true>
                <FilterSearch name="search" label="Search by email or name" />
                <FilterSelect name="state" label="State" options=STATES />
            </FilterForm>
            <ActionResults a />
            <ListResults
                resource=people
                rows=move |page: UsersPage| view! { <People rows=page.items a /> }
                one="user"
                many="users"
                no_match=NO_MATCH
                empty=EMPTY
            />
        </section>
    }
}

/// Email or SMS, and the phone for SMS.
#[component]
fn SendBy(#[prop(into)] id: String) -> impl IntoView {
    let select = format!("{id}-send-by");
    let phone = format!("{id}-phone");
    view! {
        <div class="field">
            <label for=select.clone()>"Send by"</label>
            <select id=select name="send_by">
                <option value="email">"Email, to the address above"</option>
                <option value="sms">"SMS, to the phone below"</option>
            </select>
        </div>
        <div class="field">
            <label for=phone.clone()>"Phone (for SMS)"</label>
            <input id=phone name="phone" type="tel" maxlength="16" placeholder="+8613800000000" autocomplete="off" />
            <p class="hint">"With + and the country code."</p>
        </div>
    }
}

/// The outcome of the last row action.
#[component]
fn ActionResults(a: Actions) -> impl IntoView {
    view! {
        <FormResult value=a.again.value() success=|s: InvitationSent| sent_text(&s) />
        <FormResult value=a.resend.value() success=|s: InvitationSent| format!("{} The earlier link no longer works.", sent_text(&s)) />
        <FormResult value=a.revoke.value() success=|_| "Invitation revoked: its link no longer works.".to_owned() />
        <FormResult value=a.lock.value() success=|_| "Locked: the person cannot sign in, and their logins to servers are denied.".to_owned() />
        <FormResult value=a.unlock.value() success=|_| "Unlocked.".to_owned() />
        <FormResult value=a.remove.value() success=|_| "Sign-in method removed; the person has been told by email.".to_owned() />
    }
}

#[component]
fn People(rows: Vec<PersonRow>, a: Actions) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0">
            <table class="data-table users-table">
                <caption class="visually-hidden">"Users, by email"</caption>
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Sign-in methods"</th>
                        <th scope="col">"Server accounts"</th>
                        <th scope="col">"Last sign-in"</th>
                        <th scope="col">"Invitation"</th>
                        <th scope="col">"Operation"</th>
                    </tr>
                </thead>
                <tbody>{rows.into_iter().map(|p| view! { <Person p a /> }).collect_view()}</tbody>
            </table>
        </div>
    }
}

fn invitation_text(i: &InvitationRow) -> String {
    let how = if i.channel == Channel::Sms { "SMS" } else { "Email" };
    match i.status {
        InvitationStatus::Pending => {
            let step = if i.password_set { "; password chosen" } else { "" };
            format!("{how} to {}, until {}{step}", i.address, utc(i.expires))
        }
        InvitationStatus::Expired => format!("{how} to {}, expired {}", i.address, utc(i.expires)),
        InvitationStatus::Revoked => format!("{how} to {}", i.address),
        InvitationStatus::Accepted => format!("{how} to {}", i.address),
    }
}

#[component]
fn Person(p: PersonRow, a: Actions) -> impl IntoView {
    let id = p.id.to_string();
    let email = p.email.clone();
    let methods = if p.factors.is_empty() {
        view! { <span class="muted">"None"</span> }.into_any()
    } else {
        view! {
            <ul class="plain-list">
                {p
                    .factors
                    .iter()
                    .map(|f| {
                        let factor = match (f.kind, f.id) {
                            (FactorKind::Authenticator, Some(fid)) => fid.to_string(),
                            (kind, Some(fid)) => format!("{}:{fid}", kind.as_str()),
                            _ => "recovery_codes".to_owned(),
                        };
                        let label = format!("Remove {} of {}", f.name, email);
                        let user_id = id.clone();
                        let used = f.last_used.map(|t| format!(", last used {}", utc(t))).unwrap_or_default();
                        view! {
                            <li>
                                <b>{f.kind.label()}</b> ": " {f.name.clone()}
                                <span class="small muted">{format!(" (added {}{used})", utc(f.added))}</span>
                                " "
                                <ActionForm action=a.remove attr:class="inline-form">
                                    <input type="hidden" name="id" value=user_id />
                                    <input type="hidden" name="factor" value=factor />
                                    <button type="submit" class="link-button danger" aria-label=label>"Remove"</button>
                                </ActionForm>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let accounts = if p.server_accounts.is_empty() { "None".to_owned() } else { p.server_accounts.join(", ") };
    let invitation = p.invitation.as_ref().map(|i| {
        view! {
            {i.status.label()} <br /> <span class="small muted">{invitation_text(i)}</span>
        }
    });
    let open_invitation =
        p.invitation.as_ref().is_some_and(|i| matches!(i.status, InvitationStatus::Pending | InvitationStatus::Expired));
    let locked = p.state == UserState::Locked;
    let again_id = format!("again-{}", p.id);
    view! {
        <tr>
            <td data-label="User">
                {p.name.clone()} <br /> <span class="small muted">{p.email.clone()}</span>
            </td>
            <td data-label="State">{status_badge(p.state)}</td>
            <td data-label="Sign-in methods">{methods}</td>
            <td data-label="Server accounts">{accounts}</td>
            <td data-label="Last sign-in" class="small">{p.last_sign_in.map(utc).unwrap_or_else(|| "Never".into())}</td>
            <td data-label="Invitation">{invitation.unwrap_or_else(|| view! { "None" <br /> <span class="small muted">""</span> })}</td>
            <td data-label="Operation">
                <div class="row-actions">
                    {(open_invitation && !locked).then(|| view! {
                        <RowAction action=a.resend value=id.clone() text="Resend" label=format!("Resend the invitation of {}", p.email) class="link-button" />
                    })}
                    {open_invitation.then(|| view! {
                        <RowAction action=a.revoke value=id.clone() text="Revoke" label=format!("Revoke the invitation of {}", p.email) />
                    })}
                    {if locked {
                        view! { <RowAction action=a.unlock value=id.clone() text="Unlock" label=format!("Unlock {}", p.email) class="link-button" /> }.into_any()
                    } else {
                        view! { <RowAction action=a.lock value=id.clone() text="Lock" label=format!("Lock {}", p.email) /> }.into_any()
                    }}
                </div>
                {(!locked).then(|| view! {
                    <details class="invite-again">
                        <summary>{format!("New invitation for {}", p.email)}</summary>
                        <p class="hint">"For a lost or replaced phone: remove its sign-in method first, then send a new link."</p>
                        <ActionForm action=a.again>
                            <input type="hidden" name="id" value=id.clone() />
                            <SendBy id=again_id.clone() />
                            <SubmitButton label="Send new invitation" pending=a.again.pending() secondary=true />
                        </ActionForm>
                    </details>
                })}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::USERS;

    #[test]
    fn the_url_carries_only_the_filters_that_are_set() {
        let href = |pairs: &[(&str, &str)], page: u64| {
            USERS.href(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()).unwrap_or_default(), page)
        };
        assert_eq!(href(&[], 1), "/iam/users");
        assert_eq!(href(&[("state", "invited"), ("size", "20")], 2), "/iam/users?state=invited&page=2");
    }
}
