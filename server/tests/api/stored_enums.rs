//! Enumerated columns hold their enums: what is stored is the strings written before the
//! columns were typed (no data migration), and a stored value no variant maps fails the read with
//! one error that names the enum and the value, rather than falling back to some variant.

use crate::common::*;
use domain::entities::{server, server_login, subscription, two_factor_config as config, user};
use sea_orm::{
    sea_query::{Expr, Query},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use uuid::Uuid;

/// `columns` of the row of `table` whose `key` is `id`, read as plain strings.
async fn raw<C: sea_orm::ColumnTrait>(
    app: &TestApp,
    table: impl sea_orm::Iden + 'static,
    key: C,
    id: Uuid,
    columns: &[C],
) -> Vec<Option<String>> {
    let q = Query::select().columns(columns.to_vec()).from(table).and_where(key.eq(id)).to_owned();
    let row = app.ctx.db.query_one(&q).await.unwrap().expect("the row");
    columns.iter().map(|c| row.try_get::<Option<String>>("", c.as_str()).unwrap()).collect()
}

async fn stored_strings_are_unchanged_and_a_corrupt_value_is_one_error(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Edge", "edge-01", &["ops@edge.test"]).await;
    app.put_in_force(&p, Some("code")).await;
    let s = |v: &str| Some(v.to_owned());

    use config::Column as C;
    let stored = raw(&app, config::Entity, C::ServerId, p.server_id, &[C::Method, C::Phase, C::AppliedMethod]).await;
    assert_eq!(stored, [s("code"), s("applied"), s("code")]);
    use server::Column as S;
    assert_eq!(raw(&app, server::Entity, S::Id, p.server_id, &[S::OsType]).await, [s("linux")]);
    use user::Column as U;
    assert_eq!(raw(&app, user::Entity, U::Id, p.caller.user_id, &[U::Role]).await, [s("tenant_admin")]);
    let sub = subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(p.topic_id))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    use subscription::Column as B;
    assert_eq!(
        raw(&app, subscription::Entity, B::Id, sub.id, &[B::Protocol, B::Status]).await,
        [s("email"), s("confirmed")]
    );
    // A login where 2FA is off: no factor asked, over at once.
    app.put_in_force(&p, None).await;
    let login = app.start_ok(&p, "root", "198.51.100.7").await.login_id;
    use server_login::Column as L;
    let stored = raw(&app, server_login::Entity, L::Id, login, &[L::Method, L::Stage, L::Result]).await;
    assert_eq!(stored, [s("none"), s("done"), s("allowed")]);

    // A role no variant maps, written past the typed column: reading the user fails, naming the
    // enum and the value, in the rules as in a plain find.
    user::Entity::update_many()
        .col_expr(U::Role, Expr::value("superuser"))
        .filter(U::Id.eq(p.caller.user_id))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    let err = user::Entity::find_by_id(p.caller.user_id).one(&app.ctx.db).await.unwrap_err();
    assert!(matches!(err, sea_orm::DbErr::Type(_)), "{err:?}");
    assert!(err.to_string().contains("unexpected value for Role enum: superuser"), "{err}");
    let err = domain::accounts::caller(&app.ctx, p.caller.user_id).await.unwrap_err();
    assert!(matches!(&err, domain::DomainError::Db(sea_orm::DbErr::Type(m)) if m.contains("superuser")), "{err:?}");

    // A corrupt login method: the login is refused with the console's internal error, as every
    // site that reads the column sees the same error.
    config::Entity::update_many()
        .col_expr(C::Method, Expr::value("fax"))
        .filter(C::ServerId.eq(p.server_id))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    let err = config::Entity::find_by_id(p.server_id).one(&app.ctx.db).await.unwrap_err();
    assert!(err.to_string().contains("unexpected value for Method enum: fax"), "{err}");
    let refused = app.agent_of(&p).try_login_start("root", "198.51.100.7").await.unwrap_err();
    assert_eq!((agent_status(&refused), agent_error_code(&refused)), (500, "AGENT.0500"));
}
on_both_databases!(
    stored_strings_are_unchanged_and_a_corrupt_value_is_one_error,
    super::stored_strings_are_unchanged_and_a_corrupt_value_is_one_error
);

/// A queued message whose channel no version writes must not hold up the messages behind it
/// (login codes among them): the claim ends it failed, naming the value, and hands out the rest.
async fn an_unreadable_outbox_row_ends_failed_and_holds_up_no_other(backend: Backend) {
    // The delivery worker polls seldom: this test claims for itself.
    let opts = Options { env: vec![("HOSTGUARD_DELIVERY_POLL_MS", "60000".into())], ..Options::empty() };
    let app = spawn_app_with(backend, opts).await;
    let now = app.ctx.clock.now();
    // The test claims on a clock of its own: the console's worker, on the console's clock, never
    // sees these messages due. (Advancing the console's clock raced the worker's first poll,
    // which may come after the console has started: on a loaded machine it took both messages.)
    let clock = domain::ManualClock::new(now);
    let ctx = domain::Ctx { clock: std::sync::Arc::new(clock.clone()), ..app.ctx.clone() };
    let new = |to: &str| domain::outbox::NewMessage {
        tenant_id: None,
        channel: proto::Channel::Email,
        kind: proto::MessageKind::TopicMessage,
        recipient: to.into(),
        sender_name: "HostGuard".into(),
        subject: "subject".into(),
        body_text: "text".into(),
        body_html: "html".into(),
        secrets: vec![],
    };
    // Due an hour from now, so that the console's own worker, whatever its timing, leaves them
    // alone until the test's clock gets there.
    let later = now + chrono::Duration::hours(1);
    let bad = domain::outbox::enqueue(&app.ctx.db, later, new("bad@example.test")).await.unwrap();
    let good = domain::outbox::enqueue(&app.ctx.db, later + chrono::Duration::seconds(1), new("good@example.test"))
        .await
        .unwrap();
    use domain::entities::outbox::{self, Column as O};
    outbox::Entity::update_many()
        .col_expr(O::Channel, Expr::value("pigeon"))
        .filter(O::Id.eq(bad))
        .exec(&app.ctx.db)
        .await
        .unwrap();

    clock.advance(chrono::Duration::hours(2));
    let lease = chrono::Duration::seconds(60);
    let claimed = domain::outbox::claim(&ctx, "test", 10, lease).await.unwrap();
    if claimed.iter().map(|m| m.id).collect::<Vec<_>>() != vec![good] {
        // Which rows, and in what state, say who else took them.
        use sea_orm::QuerySelect;
        let rows: Vec<(Uuid, String, Option<String>, i32)> = outbox::Entity::find()
            .select_only()
            .columns([O::Id, O::Status, O::LeaseOwner, O::Attempts])
            .into_tuple()
            .all(&app.ctx.db)
            .await
            .unwrap();
        panic!("claimed {claimed:?}, not only {good} (bad {bad}); the outbox: {rows:?}");
    }
    let stored = raw(&app, outbox::Entity, O::Id, bad, &[O::Status, O::LastError, O::LeaseOwner]).await;
    assert_eq!(stored[0].as_deref(), Some("failed"));
    assert!(stored[1].as_deref().is_some_and(|e| e.contains("pigeon")), "{stored:?}");
    assert_eq!(stored[2], None, "not left leased");
    assert!(domain::outbox::claim(&ctx, "test", 10, lease).await.unwrap().is_empty(), "never claimed again");
}
on_both_databases!(
    an_unreadable_outbox_row_ends_failed_and_holds_up_no_other,
    super::an_unreadable_outbox_row_ends_failed_and_holds_up_no_other
);
